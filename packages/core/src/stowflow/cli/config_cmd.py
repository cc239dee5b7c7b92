"""``stowflow config``: the effective settings, secrets masked."""

from __future__ import annotations

import typer
from pydantic import SecretStr
from rich.table import Table

from stowflow.cli.output import console
from stowflow.redact import MASKED


def show_config() -> None:
    """Show the effective settings and where each value comes from."""
    from stowflow.db.engine import safe_url
    from stowflow.settings import get_settings

    settings = get_settings()
    table = Table("setting", "value", "environment variable")
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            shown = MASKED
        elif name == "database_url" and value:
            shown = safe_url(value)
        else:
            shown = "-" if value is None else str(value)
        table.add_row(name, shown, f"STOWFLOW_{name.upper()}")
    table.add_row("(database in use)", safe_url(settings.effective_database_url), "")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``stowflow config``."""
    app.command("config")(show_config)
