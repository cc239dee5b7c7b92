"""``stowflow worker start``: run a worker for a pool, of the pool's type (process, docker...)."""

from __future__ import annotations

import difflib
import logging

import typer

from stowflow.cli.output import console
from stowflow.cli.scheduler_options import CATCHUP, HORIZON, MAX_RUNS, scheduler_options

worker_app = typer.Typer(help="Run workers that execute flow runs.", no_args_is_help=True)


@worker_app.command("start")
def start_cmd(
    pool: str = typer.Option(..., "--pool", "-p", help="Work pool to take runs from."),
    queue: list[str] = typer.Option([], "--queue", "-q", help="Only this queue of the pool "
                                    "(repeatable; default: every queue, by priority)."),
    limit: int = typer.Option(4, "--limit", min=1, help="Most runs at once."),
    run_once: bool = typer.Option(False, "--run-once",
                                  help="Take the runs due now, run them, then exit."),
    name: str | None = typer.Option(None, "--name", help="Worker name (default host-pid-id)."),
    poll_interval: float = typer.Option(2.0, "--poll-interval", min=0.01,
                                        help="Seconds between polls for new runs."),
    heartbeat_interval: float = typer.Option(5.0, "--heartbeat-interval", min=0.05,
                                             help="Seconds between heartbeats of runs."),
    crash_timeout: float = typer.Option(
        60.0, "--crash-timeout", min=0.1,
        help="Mark a run CRASHED when its worker missed heartbeats this long."),
    no_scheduler: bool = typer.Option(False, "--no-scheduler",
                                      help="Do not create scheduled runs in this worker."),
    horizon: float = HORIZON,
    max_runs: int = MAX_RUNS,
    catchup: int = CATCHUP,
) -> None:
    """Claim and run the pool's flow runs (Ctrl-C: finish runs in flight; twice: cancel)."""
    from stowflow.workers.pools import create_pool, get_queue, list_pools, pool_exists, worker_type
    from stowflow.workers.worker import Worker

    logging.getLogger("stowflow.workers").setLevel(logging.INFO)
    if not pool_exists(pool):
        others = [p.name for p in list_pools()]
        record = create_pool(pool, exist_ok=True)
        close = difflib.get_close_matches(pool, others, n=3)
        console.print(f"[yellow]Work pool {pool!r} did not exist: created it "
                      f"(type {record.type}).[/yellow]" +
                      (f" Did you mean {', '.join(repr(c) for c in close)}?" if close else
                       " Deployments name their pool in work_pool.name."))
    else:
        record = create_pool(pool, exist_ok=True)
    launcher = worker_type(record.type).make_launcher(pool)
    for name_ in queue:
        get_queue(pool, name_)  # a misspelled queue would be polled forever for nothing
    worker = Worker(pool, name=name, limit=limit, poll_interval=poll_interval,
                    heartbeat_interval=heartbeat_interval, crash_timeout=crash_timeout,
                    queues=queue, launcher=launcher)
    where = f" queue(s) [bold]{', '.join(queue)}[/bold]" if queue else ""
    console.print(f"Worker [bold]{worker.name}[/bold] polling {record.type} pool [bold]{pool}[/bold]{where} "
                  f"(limit {limit}{', run once' if run_once else ''}"
                  f"{'' if no_scheduler else ', with scheduler'}). Ctrl-C to stop.")
    scheduler = None
    if not no_scheduler:
        from stowflow.schedules import Scheduler

        scheduler = Scheduler(interval=max(poll_interval, 1.0),
                              **scheduler_options(horizon, max_runs, catchup))  # type: ignore[arg-type]
        if run_once:
            scheduler.tick()  # the runs due now exist before the one claim
        else:
            scheduler.start_thread()
    try:
        finished = worker.start(run_once=run_once)
    finally:
        if scheduler is not None:
            scheduler.stop()
    console.print(f"Worker {worker.name} stopped after {finished} run(s).")


def register(app: typer.Typer) -> None:
    """Add ``stowflow worker``."""
    app.add_typer(worker_app, name="worker")
