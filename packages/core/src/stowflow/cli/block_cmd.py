"""``stowflow block``: register, list, inspect, create and delete blocks."""

from __future__ import annotations

import json
import sys
import typing
from typing import Any

import typer
from pydantic import ValidationError
from rich.table import Table

from stowflow.blocks import Block, get_block_class, register_module
from stowflow.blocks.core import document_store, validation_problems
from stowflow.blocks.types import block_types
from stowflow.blocks.views import masked_view
from stowflow.cli.output import console
from stowflow.errors import BlockError

block_app = typer.Typer(help="Register, list, inspect, create and delete blocks.", no_args_is_help=True)


def _split_ref(ref: str) -> tuple[str, str]:
    slug, _, name = ref.partition("/")
    if not name:
        raise BlockError(f"expected TYPE-SLUG/NAME, got {ref!r}", hint="for example secret/my-token")
    return slug, name


@block_app.command("register")
def register_cmd(
    module: str = typer.Option(..., "-m", "--module", help="Module whose Block classes to record."),
) -> None:
    """Record the block types a module defines or exports."""
    for cls in register_module(module):
        console.print(f"Registered block type [bold]{cls.get_block_type_slug()}[/bold] "
                      f"({cls.get_block_type_name()}) from {cls.__module__}")


@block_app.command("types")
def types_cmd() -> None:
    """List block types known from installed plugins and from 'block register'."""
    table = Table("slug", "name", "module", "source")
    rows: dict[str, tuple[str, str, str]] = {}
    for record in document_store().list_block_types():
        rows[record.slug] = (record.name, record.module, "registered")
    for slug, cls in block_types().items():
        source = "plugin + registered" if slug in rows else "plugin"
        rows[slug] = (cls.get_block_type_name(), cls.__module__, source)
    for slug in sorted(rows):
        table.add_row(slug, *rows[slug])
    console.print(table)


@block_app.command("ls")
def ls_cmd(
    block_type: str | None = typer.Option(None, "--type", help="Only blocks of this type slug."),
) -> None:
    """List saved blocks (from STOWFLOW_API_URL's server when it is set)."""
    from stowflow.api_client import client_from_settings

    api = client_from_settings()
    if api is not None:
        rows = [(b["slug"], b["name"], b["id"]) for b in api.get("blocks", type=block_type)]
    else:
        rows = document_store().list_documents(block_type)
    table = Table("block", "id")
    for slug, name, doc_id in rows:
        table.add_row(f"{slug}/{name}", doc_id)
    console.print(table)


@block_app.command("inspect")
def inspect_cmd(ref: str = typer.Argument(..., help="TYPE-SLUG/NAME")) -> None:
    """Show a saved block's fields, secrets masked."""
    block = Block.load(ref)
    console.print_json(json.dumps(masked_view(block)))


def _parse_sets(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BlockError(f"--set expects field=value, got {pair!r}")
        values[key.strip()] = value
    return values


def _coerce(cls: type[Block], field: str, raw: str) -> Any:
    annotation = cls.model_fields[field].annotation
    args = typing.get_args(annotation) or (annotation,)
    for arg in args:
        if isinstance(arg, type) and issubclass(arg, Block):
            return Block.load(raw if "/" in raw else f"{arg.get_block_type_slug()}/{raw}")
    if str in args:
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _read_secret_values(cls: type[Block], wanted: list[str]) -> dict[str, str]:
    if not wanted:
        return {}
    required = {n for n in wanted if cls.model_fields[n].is_required()}
    if sys.stdin.isatty():
        values = {}
        for name in wanted:
            optional = "" if name in required else " (Enter to leave empty)"
            value = typer.prompt(f"{name}{optional}", hide_input=True, default="" if name not in required else None, show_default=False)
            if value:
                values[name] = value
        return values
    text = sys.stdin.read()
    if len(wanted) == 1:
        value = text.rstrip("\r\n")
        return {wanted[0]: value} if value else {}
    values = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or key.strip() not in wanted:
            # Never quote the line: it may be a secret typed without its field name.
            raise BlockError(
                f"stdin line {number} is not FIELD=VALUE for a secret field of this block",
                hint=f"this block's secret fields: {', '.join(wanted)}; "
                "give one field=value per line",
            )
        values[key.strip()] = value
    return values


@block_app.command("create")
def create_cmd(
    block_type: str = typer.Argument(..., help="Block type slug, e.g. secret or aws-credentials."),
    name: str = typer.Argument(..., help="Name to save the block as."),
    set_: list[str] = typer.Option([], "--set", help="field=value for a non-secret field (repeatable)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing block of this name."),
) -> None:
    """Create a block. Secret fields are read from a hidden prompt or from stdin, never argv.

    With stdin not a terminal: one secret field takes all of stdin; several take
    ``field=value`` lines.
    """
    cls = get_block_class(block_type)
    values: dict[str, Any] = {}
    secret_fields = cls.secret_field_names()
    for field, raw in _parse_sets(set_).items():
        if field not in cls.model_fields:
            raise BlockError(f"'{block_type}' has no field '{field}'",
                             hint=f"fields: {', '.join(cls.model_fields)}")
        if field in secret_fields:
            raise BlockError(
                f"secret field '{field}' cannot be given on the command line "
                "(it would stay in shell history and be visible in ps)",
                hint="leave it out: you will be prompted, or pipe it on stdin",
            )
        values[field] = _coerce(cls, field, raw)
    values.update(_read_secret_values(cls, secret_fields))
    try:
        block = cls.model_validate(values)
    except ValidationError as exc:
        raise BlockError(f"invalid '{block_type}' block: {validation_problems(exc)}") from None
    block.save(name, overwrite=overwrite)
    console.print(f"Saved block [bold]{block_type}/{name}[/bold]")


@block_app.command("delete")
def delete_cmd(ref: str = typer.Argument(..., help="TYPE-SLUG/NAME")) -> None:
    """Delete a saved block."""
    slug, name = _split_ref(ref)
    document_store().delete_document(slug, name)
    console.print(f"Deleted block {slug}/{name}")


def register(app: typer.Typer) -> None:
    """Add ``stowflow block``."""
    app.add_typer(block_app, name="block")
