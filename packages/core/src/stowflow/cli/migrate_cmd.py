"""``stowflow migrate prefect``: translate a ``prefect.yaml`` into a ``stowflow.yaml``."""

from __future__ import annotations

from pathlib import Path

import typer

from stowflow.cli.output import console

migrate_app = typer.Typer(help="Bring deployments over from other tools.", no_args_is_help=True)

_STYLE = {"translated": "green", "changed": "yellow", "kept": "cyan", "not translated": "red"}


@migrate_app.command("prefect")
def prefect_cmd(
    path: Path = typer.Argument(Path("prefect.yaml"),
                                help="The prefect.yaml (or the folder holding it)."),
    write: bool = typer.Option(False, "--write", help="Write stowflow.yaml (default: only show)."),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="Where to write (default: stowflow.yaml beside it)."),
    force: bool = typer.Option(False, "--force",
                               help="Replace an existing stowflow.yaml (kept as .bak)."),
    allow_incomplete: bool = typer.Option(
        False, "--allow-incomplete",
        help="Write even when some parts could not be translated (they are listed at the top)."),
    rename_ignore: bool = typer.Option(False, "--rename-ignore",
                                       help="Rename .prefectignore to .stowflowignore."),
) -> None:
    """Translate a prefect.yaml: steps, placeholders, deployments, job variables, schedules.

    Prints what was translated, what was changed on the way and what could not be
    translated (with the line), and the blocks the file needs. Writes nothing without
    --write; exits 1 when something could not be translated.
    """
    from rich.table import Table

    from stowflow.errors import ConfigError
    from stowflow.migrate import migrate_prefect_file, rename_prefectignore

    for flag, given in (("--force", force), ("--rename-ignore", rename_ignore)):
        if given and not write:
            raise ConfigError(f"{flag} changes files, so it needs --write")
    migration = migrate_prefect_file(path)
    table = Table(title=f"Migrating {migration.source}")
    for header in ("line", "field", migration.source.name, "stowflow.yaml", "", "note"):
        table.add_column(header, overflow="fold")
    for item in migration.items:
        table.add_row(str(item.line or ""), item.field, item.before, item.after,
                      f"[{_STYLE[item.status]}]{item.status}[/]", item.note)
    console.print(table)
    if migration.blocks:
        blocks = Table("block", "saved", "block type from", title="Blocks the file needs")
        for block in migration.blocks:
            blocks.add_row(block.ref, "yes" if block.exists else "[red]no[/]",
                           block.distribution or "")
        console.print(blocks)
        if not all(block.exists for block in migration.blocks):
            console.print("Save the missing blocks under these names (stowflow block create, "
                          "or in Python) before the deployments run.")
    if migration.prefectignore is not None:
        console.print(f"{migration.prefectignore.name} is honoured while the project has no "
                      ".stowflowignore; --rename-ignore renames it.", markup=False)
    counts = {status: sum(item.status == status for item in migration.items)
              for status in _STYLE}
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()))

    target = output or migration.source.with_name("stowflow.yaml")
    if not write:
        console.print(f"\n[bold]{target} would be:[/bold]")
        console.print(migration.text(), markup=False)
        console.print("Nothing written: add --write to write it.")
    elif migration.complete or allow_incomplete:
        backup = migration.write(target, force=force)
        console.print(f"Wrote {target}" + (f" (the old one is in {backup})" if backup else ""),
                      markup=False)
        if rename_ignore:
            console.print(f"Renamed to {rename_prefectignore(migration)}", markup=False)
    else:
        raise ConfigError(f"{len(migration.untranslated)} part(s) of {migration.source} could "
                          "not be translated, so nothing was written",
                          hint="change them as the table says, or pass --allow-incomplete")
    if not migration.complete and not allow_incomplete:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``stowflow migrate``."""
    app.add_typer(migrate_app, name="migrate")
