"""``stowflow storage``: push, pull, list, version, roll back and collect object-store code.

Every command is a thin call into :mod:`stowflow.transfer`; errors are stowflow errors
(the CLI boundary prints one red line). Store options (endpoint, fsspec settings) are
given as ``-o key=value`` (values parsed as JSON when they parse).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from stowflow.cli.output import console, err_console
from stowflow.cli.units import format_size as _size
from stowflow.cli.units import parse_size as _parse_size
from stowflow.errors import ConfigError

storage_app = typer.Typer(help="Push and pull code to and from object stores.",
                          no_args_is_help=True)

_OPTION_HELP = ("Store option KEY=VALUE (repeatable), e.g. -o endpoint_url=http://127.0.0.1:9000."
                " Not for credentials: use --credentials or the provider's environment.")
_CREDENTIALS_HELP = "A saved credentials block, SLUG/NAME (e.g. aws-credentials/prod)."


def _options(pairs: list[str] | None, credentials: str | None = None) -> dict[str, Any]:
    from stowflow.transfer.url import looks_secret

    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option '{key}': expected KEY=VALUE")
        if looks_secret(key):
            # argv is visible to every user of the machine (ps, /proc, shell history).
            raise ConfigError(f"--option '{key}' looks like a credential; refusing it on the "
                              "command line",
                              hint="save a credentials block and pass --credentials SLUG/NAME, "
                                   "or use the provider's environment variables")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    if credentials:
        from stowflow.blocks import Block

        options["credentials"] = Block.load(credentials)
    return options


@contextmanager
def _store(url: str, pairs: list[str] | None,
           credentials: str | None = None) -> Iterator[tuple[Any, str]]:
    from stowflow.transfer import open_store

    store, prefix = open_store(url, _options(pairs, credentials))
    with store:
        yield store, prefix


@contextmanager
def _progress(label: str) -> Iterator[Any]:
    """Yield a progress callback that drives a Rich bar (files and bytes) on stderr."""
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.fields[files]}"), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(label, total=None, files="")

        def update(event: Any) -> None:
            bar.update(task, total=event.total_bytes or None, completed=event.done_bytes,
                       files=f"{event.done_files}/{event.total_files} files")

        yield update


@storage_app.command("push")
def push_cmd(
    src: Path = typer.Argument(..., help="Folder to push."),
    url: str = typer.Argument(..., help="Destination, e.g. s3://bucket/folder."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would go; write nothing."),
    layout: str = typer.Option("packed", "--layout",
                               help="'packed' (versioned packs, default) or 'files' (a plain mirror)."),
    ignore_file: str = typer.Option(".stowflowignore", "--ignore-file",
                                    help="Ignore file inside SRC (gitignore syntax)."),
    option: list[str] = typer.Option(None, "--option", "-o", help=_OPTION_HELP),
    credentials: str = typer.Option(None, "--credentials", help=_CREDENTIALS_HELP),
) -> None:
    """Push SRC to URL as a new version (only what the store lacks is uploaded)."""
    from stowflow import transfer

    if dry_run:  # the store is opened (so a bad URL fails now) but never called
        with _store(url, option, credentials) as (store, prefix):
            result = transfer.push(src, store, prefix, layout=layout, ignore_file=ignore_file,
                                   dry_run=True)
        for path in result.paths:
            console.print(path, markup=False)
        console.print(f"{result.files} files, {_size(result.total_bytes)} would be pushed to "
                      f"{_display(url)}", markup=False)
        return
    with _store(url, option, credentials) as (store, prefix), _progress("push") as progress:
        result = transfer.push(src, store, prefix, layout=layout, ignore_file=ignore_file,
                               progress=progress)
    state = "new version" if result.changed else "unchanged, version"
    console.print(f"Pushed {result.files} files ({_size(result.total_bytes)}) to "
                  f"{_display(url)}: {state} {result.version}; uploaded "
                  f"{result.uploaded_objects} objects ({_size(result.bytes_sent)}), "
                  f"{result.skipped} files already there", markup=False)


@storage_app.command("pull")
def pull_cmd(
    url: str = typer.Argument(..., help="Source, e.g. s3://bucket/folder."),
    dest: Path = typer.Argument(..., help="Folder to create or replace atomically."),
    version: str = typer.Option(None, "--version", help="Version id to pull (default: HEAD)."),
    replace: bool = typer.Option(False, "--replace",
                                 help="Replace DEST even if it holds files stowflow did not pull."),
    option: list[str] = typer.Option(None, "--option", "-o", help=_OPTION_HELP),
    credentials: str = typer.Option(None, "--credentials", help=_CREDENTIALS_HELP),
) -> None:
    """Pull URL (its current version, or --version) into DEST, replacing it atomically."""
    from stowflow import transfer

    with _store(url, option, credentials) as (store, prefix), _progress("pull") as progress:
        result = transfer.pull(store, prefix, dest, version=version, progress=progress,
                               replace=replace)
    console.print(f"Pulled {result.files} files into {result.directory} (version "
                  f"{result.version or 'unversioned folder'}; fetched {result.fetched_objects} "
                  f"objects, {_size(result.bytes_received)}; {result.cached_files} from cache)",
                  markup=False)


@storage_app.command("ls")
def ls_cmd(
    url: str = typer.Argument(..., help="e.g. s3://bucket/folder."),
    version: str = typer.Option(None, "--version", help="Version id (default: HEAD)."),
    option: list[str] = typer.Option(None, "--option", "-o", help=_OPTION_HELP),
    credentials: str = typer.Option(None, "--credentials", help=_CREDENTIALS_HELP),
) -> None:
    """List the files of URL's current version (or of --version)."""
    from stowflow import transfer

    with _store(url, option, credentials) as (store, prefix):
        files = transfer.list_files(store, prefix, version)
    table = Table("path", "size", "exec")
    for path, size, executable in files:
        table.add_row(path, str(size), "x" if executable else "")
    console.print(table)


@storage_app.command("versions")
def versions_cmd(
    url: str = typer.Argument(..., help="e.g. s3://bucket/folder."),
    option: list[str] = typer.Option(None, "--option", "-o", help=_OPTION_HELP),
    credentials: str = typer.Option(None, "--credentials", help=_CREDENTIALS_HELP),
) -> None:
    """List URL's versions, newest first; '*' marks the current one (HEAD)."""
    from stowflow import transfer

    with _store(url, option, credentials) as (store, prefix):
        versions = transfer.list_versions(store, prefix)
    if not versions:
        console.print(f"{_display(url)} has no versions (not written by stowflow)", markup=False)
    for v in versions:  # plain lines: ids are long and get copied into rollback commands
        console.print(f"{'*' if v.current else ' '} {v.id}  {v.created}  {v.files} files  "
                      f"{_size(v.total_bytes)}  {v.layout}", markup=False)


@storage_app.command("rollback")
def rollback_cmd(
    url: str = typer.Argument(..., help="e.g. s3://bucket/folder."),
    version: str = typer.Argument(..., help="Version id to make current."),
    option: list[str] = typer.Option(None, "--option", "-o", help=_OPTION_HELP),
    credentials: str = typer.Option(None, "--credentials", help=_CREDENTIALS_HELP),
) -> None:
    """Make VERSION the current version of URL (moves HEAD; deletes nothing)."""
    from stowflow import transfer

    with _store(url, option, credentials) as (store, prefix):
        transfer.rollback(store, prefix, version)
    console.print(f"{_display(url)} now at version {version}", markup=False)


@storage_app.command("gc")
def gc_cmd(
    url: str = typer.Argument(..., help="e.g. s3://bucket/folder."),
    keep: int = typer.Option(..., "--keep", help="How many of the newest versions to keep."),
    option: list[str] = typer.Option(None, "--option", "-o", help=_OPTION_HELP),
    credentials: str = typer.Option(None, "--credentials", help=_CREDENTIALS_HELP),
    force: bool = typer.Option(
        False, "--force", help="Run even while a live push lease exists (one a crashed push "
        "left on another machine; a dead local push's lease is seen at once)."),
) -> None:
    """Delete all but the newest KEEP versions (and HEAD) and what only they used.

    Refuses while a push to the same prefix is in progress (pushes that start meanwhile
    wait for it). Also removes unfinished uploads and leases left by killed pushes.
    """
    from stowflow import transfer

    with _store(url, option, credentials) as (store, prefix):
        result = transfer.gc(store, prefix, keep, force=force)
    leftovers = ""
    if result.deleted_temp_files or result.deleted_leases or result.aborted_uploads:
        leftovers = (f"; removed {result.deleted_temp_files} unfinished uploads "
                     f"({_size(result.deleted_temp_bytes)}), aborted "
                     f"{result.aborted_uploads} incomplete uploads and "
                     f"{result.deleted_leases} stale leases")
    console.print(f"Kept {len(result.kept_versions)} versions; deleted "
                  f"{len(result.deleted_versions)} versions and {result.deleted_objects} "
                  f"objects ({_size(result.deleted_bytes)}){leftovers}", markup=False)


@storage_app.command("prune-cache")
def prune_cache_cmd(
    max_size: str = typer.Option(..., "--max-size",
                                 help="Largest size to keep, e.g. 500MB or 2GB (0 empties it)."),
) -> None:
    """Shrink this machine's content cache; unlinked entries go first, oldest first."""
    from stowflow.transfer.cache import ContentCache

    removed, freed = ContentCache().prune(_parse_size(max_size))
    console.print(f"Removed {removed} cached files ({_size(freed)})", markup=False)


@storage_app.command("verify-cache")
def verify_cache_cmd(
    repair: bool = typer.Option(
        False, "--repair", help="Remove damaged entries; the next pull fetches them again."),
) -> None:
    """Hash every entry of this machine's content cache and report damaged ones.

    Exits 1 when damage is found and not repaired. Trees pulled earlier keep their link
    to a damaged entry: pull them again after --repair.
    """
    from stowflow.transfer.cache import ContentCache

    report = ContentCache().verify(repair=repair)
    for path, links in report.damaged:
        trees = f", linked into {links} pulled files" if links else ""
        action = "removed" if repair else "damaged"
        console.print(f"{action}: {path} (bytes do not match its sha256{trees})", markup=False)
    console.print(f"Checked {report.checked} cached files ({_size(report.checked_bytes)}): "
                  f"{len(report.damaged)} damaged"
                  + (", removed" if repair and report.damaged else ""), markup=False)
    if report.damaged and not repair:
        raise typer.Exit(1)


def _display(url: str) -> str:
    from stowflow.transfer.url import display_url

    return display_url(url)


def register(app: typer.Typer) -> None:
    """Add the ``storage`` command group to the root app."""
    app.add_typer(storage_app, name="storage")
