"""``stowflow env``: list and prune the run environment layers on this machine."""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table

from stowflow.cli.output import console
from stowflow.cli.units import format_size, parse_age, parse_size
from stowflow.errors import ConfigError

env_app = typer.Typer(help="List and prune the run environment layers on this machine.",
                      no_args_is_help=True)


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@env_app.command("ls")
def ls_cmd() -> None:
    """List the layers: key, packages, size, last use and the deployments that used them."""
    from stowflow.envs.inventory import list_layers

    table = Table("key", "built from", "packages", "size", "last used (UTC)", "used by",
                  "in use")
    for info in list_layers():
        table.add_row(info.key, "\n".join(info.inputs), " ".join(info.packages),
                      format_size(info.size),
                      _when(info.last_used), "\n".join(info.used_by),
                      "yes" if info.in_use else "")
    console.print(table)


@env_app.command("prune")
def prune_cmd(
    max_size: str | None = typer.Option(None, "--max-size",
                                        help="Keep the layers within this size, e.g. 5GB "
                                             "(least recently used go first)."),
    older_than: str | None = typer.Option(None, "--older-than",
                                          help="Remove layers unused for this long, e.g. 30d."),
) -> None:
    """Remove layers; a layer a running run is using is never removed."""
    from stowflow.envs.inventory import prune

    if max_size is None and older_than is None:
        raise ConfigError("env prune: say what to remove with --max-size and/or --older-than",
                          hint="e.g. stowflow env prune --max-size 5GB --older-than 30d")
    result = prune(max_size=None if max_size is None else parse_size(max_size),
                   older_than=None if older_than is None else parse_age(older_than))
    console.print(f"Removed {len(result.removed)} layers ({format_size(result.freed)})",
                  markup=False)
    for info in result.in_use:
        console.print(f"Kept {info.key}: in use by a running run", markup=False)
    if result.leftovers:
        console.print(f"Removed {result.leftovers} folders left by interrupted installs",
                      markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``env`` command group to the root app."""
    app.add_typer(env_app, name="env")
