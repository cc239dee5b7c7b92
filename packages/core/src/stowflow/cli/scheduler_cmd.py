"""``stowflow scheduler start [--once]``: create scheduled runs (also inside ``worker start``)."""

from __future__ import annotations

import contextlib
import logging
import signal

import typer

from stowflow.cli.output import console
from stowflow.cli.scheduler_options import CATCHUP, HORIZON, MAX_RUNS, scheduler_options

scheduler_app = typer.Typer(help="Create the runs of deployments' schedules.",
                            no_args_is_help=True)


@scheduler_app.command("start")
def start_cmd(
    once: bool = typer.Option(False, "--once", help="Tick once, then exit."),
    interval: float = typer.Option(5.0, "--interval", min=0.05, help="Seconds between ticks."),
    horizon: float = HORIZON,
    max_runs: int = MAX_RUNS,
    catchup: int = CATCHUP,
) -> None:
    """Tick until stopped (Ctrl-C): create the runs of every active schedule."""
    from stowflow.schedules import Scheduler

    scheduler = Scheduler(interval=interval, **scheduler_options(horizon, max_runs, catchup))  # type: ignore[arg-type]
    if once:  # one summary line; the tick's own log line would say it again
        report = scheduler.tick()
        console.print(f"Scheduler: {report.schedules} schedule(s) due, created "
                      f"{len(report.created)} run(s), skipped {report.skipped} missed time(s).")
        return
    logging.getLogger("stowflow.schedules").setLevel(logging.INFO)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop(timeout=0))
    console.print(f"Scheduler ticking every {interval:g}s, {horizon:g}s ahead. Ctrl-C to stop.")
    with contextlib.suppress(KeyboardInterrupt):
        scheduler.run()
    console.print(f"Scheduler stopped after {scheduler.ticks} tick(s).")


def register(app: typer.Typer) -> None:
    """Add ``stowflow scheduler``."""
    app.add_typer(scheduler_app, name="scheduler")
