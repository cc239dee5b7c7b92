"""``stowflow quickstart``: the whole loop on embedded defaults, in one command.

It writes a sample flow project into a temporary folder, deploys it with local storage
to a process work pool, starts a run, runs a worker for it (``--run-once``) and prints
the run's state, logs and phase timings — SQLite and caches in ``STOWFLOW_HOME``.
"""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import typer

from stowflow.cli.output import console
from stowflow.errors import ConfigError

POOL = "quickstart-pool"
DEPLOYMENT = "quickstart"
ENTRYPOINT = "flows/hello.py:hello"

SAMPLE_FLOW = '''\
"""A sample flow written by `stowflow quickstart`."""

import logging
import platform

from stowflow import flow

log = logging.getLogger(__name__)


@flow(log_prints=True)
def hello(name: str = "World", count: int = 3) -> str:
    """Say hello a few times."""
    for i in range(1, count + 1):
        print(f"Hello {name}! ({i}/{count})")
    log.info("ran on Python %s", platform.python_version())
    return f"greeted {name} {count} times"
'''


_README = textwrap.dedent("""\
    # stowflow quickstart project

    `flows/hello.py:hello` is deployed as `hello/quickstart` to the `quickstart-pool`.
    """)


def write_sample_project(folder: Path) -> Path:
    """Write the sample flow project into ``folder``; return the folder.

    A file of the sample that already exists with other content is never overwritten: a
    ConfigError names it (an earlier quickstart's own files are fine).
    """
    files = {folder / "flows" / "hello.py": SAMPLE_FLOW, folder / "README.md": _README}
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--project {str(folder)!r} is a file, not a folder",
                          hint="give a new or empty folder (or leave --project out)")
    for path, text in files.items():
        if path.exists() and (not path.is_file() or path.read_text(errors="replace") != text):
            raise ConfigError(
                f"quickstart would overwrite {str(path)!r}, which it did not write",
                hint="give a new or empty folder with --project (or leave --project out)",
            )
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    except OSError as exc:
        raise ConfigError(f"cannot write the sample project into {str(folder)!r}: "
                          f"{exc.strerror or exc}",
                          hint="give a folder you can write to with --project") from exc
    return folder


def quickstart(
    name: str = typer.Option("stowflow", "--name", help="The sample flow's 'name' parameter."),
    project: Path | None = typer.Option(None, "--project",
                                        help="Folder for the sample project (default: a new "
                                             "temporary folder)."),
) -> None:
    """Write a sample flow, deploy it with local storage, run it, and show what happened."""
    from stowflow.cli.flow_run_cmd import print_logs, print_phases, styled_state
    from stowflow.flows import Flow
    from stowflow.runs import create_flow_run, get_flow_run, is_final
    from stowflow.settings import get_settings
    from stowflow.workers.pools import create_pool
    from stowflow.workers.worker import Worker

    settings = get_settings()
    folder = write_sample_project(project or Path(tempfile.mkdtemp(prefix="stowflow-quickstart-")))
    console.print(f"[bold]1.[/] Wrote a sample flow project to {folder}")
    create_pool(POOL, exist_ok=True)
    console.print(f"[bold]2.[/] Work pool [bold]{POOL}[/] (process) is ready "
                  f"(database: {settings.home})")
    deployment_id = Flow.from_source(source=str(folder), entrypoint=ENTRYPOINT).deploy(
        name=DEPLOYMENT, work_pool_name=POOL)
    console.print(f"[bold]3.[/] Deployed [bold]hello/{DEPLOYMENT}[/] from local storage")
    run = create_flow_run(deployment_id, {"name": name})
    console.print(f"[bold]4.[/] Started flow run [bold]{run.name}[/] ({run.id})")
    console.print(f"[bold]5.[/] Running a worker for it: stowflow worker start --pool {POOL} "
                  "--run-once")
    for _ in range(10):  # older runs of the pool may be ahead of ours
        Worker(POOL, limit=4, poll_interval=0.1, heartbeat_interval=1.0).start(run_once=True)
        if is_final(get_flow_run(run.id).state):
            break
    final = get_flow_run(run.id)
    console.print(f"\nFlow run [bold]{final.name}[/] is {styled_state(final.state)}"
                  + (f": {final.state_message}" if final.state_message else ""))
    console.print("\n[bold]Logs[/]")
    print_logs(final.id)
    console.print("\n[bold]Phases[/]")
    print_phases(final.id)
    console.print(f"\nNext: stowflow flow-run inspect {final.id}\n"
                  f"      stowflow deployment run hello/{DEPLOYMENT} --param name=you --watch "
                  f"(with 'stowflow worker start --pool {POOL}' running)")
    if final.state != "COMPLETED":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``stowflow quickstart``."""
    app.command("quickstart")(quickstart)
