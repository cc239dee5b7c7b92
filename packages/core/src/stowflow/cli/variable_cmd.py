"""``stowflow variable``: set, get, list and delete variables."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from stowflow.cli.output import console

variable_app = typer.Typer(help="Set, get, list and delete variables.", no_args_is_help=True)


def _show(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@variable_app.command("set")
def set_cmd(
    name: str = typer.Argument(..., help="Variable name."),
    value: str = typer.Argument(..., help="The value (text; JSON with --json)."),
    as_json: bool = typer.Option(False, "--json", help="Parse VALUE as JSON (numbers, lists, objects)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing value."),
) -> None:
    """Set variable NAME to VALUE; usable in steps as {{ stowflow.variables.NAME }}."""
    from stowflow.variables import VariableError, set_variable

    parsed: object = value
    if as_json:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise VariableError(f"--json: the value is not valid JSON: {exc.msg}") from None
    set_variable(name, parsed, overwrite=overwrite)
    console.print(f"Set variable [bold]{name}[/bold]")


@variable_app.command("get")
def get_cmd(name: str = typer.Argument(..., help="Variable name.")) -> None:
    """Print the value of variable NAME."""
    from stowflow.variables import get_variable

    console.print(_show(get_variable(name)), markup=False)


@variable_app.command("ls")
def ls_cmd() -> None:
    """List every variable and its value."""
    from stowflow.variables import list_variables

    table = Table("name", "value")
    for name, value in list_variables().items():
        table.add_row(name, _show(value))
    console.print(table)


@variable_app.command("delete")
def delete_cmd(name: str = typer.Argument(..., help="Variable name.")) -> None:
    """Delete variable NAME."""
    from stowflow.variables import delete_variable

    delete_variable(name)
    console.print(f"Deleted variable {name}")


def register(app: typer.Typer) -> None:
    """Add ``stowflow variable``."""
    app.add_typer(variable_app, name="variable")
