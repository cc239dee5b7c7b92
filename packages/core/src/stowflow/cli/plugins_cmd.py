"""``stowflow plugins``: what is installed, its version, its hooks, and any load error."""

from __future__ import annotations

import typer
from rich.table import Table

from stowflow.cli.output import console


def plugins(
    builtins: bool = typer.Option(False, "--builtins", help="Also list core's built-in plugins."),
) -> None:
    """List installed plugins with their version, hooks and load errors."""
    from stowflow.plugins import plugin_infos

    table = Table("plugin", "distribution", "version", "hooks", "status")
    failed = 0
    for info in plugin_infos():
        if info.builtin and not builtins:
            continue
        status = "[green]ok[/green]"
        if info.error:
            failed += 1
            status = f"[red]failed: {info.error}[/red]"
        table.add_row(
            info.name, info.distribution or "-", info.version or "-",
            ", ".join(h.removeprefix("stowflow_") for h in info.hooks) or "-", status,
        )
    console.print(table)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``stowflow plugins``."""
    app.command("plugins")(plugins)
