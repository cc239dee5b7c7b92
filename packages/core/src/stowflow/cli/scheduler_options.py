"""The scheduler options ``scheduler start`` and ``worker start`` share (no command here, so
``worker --help`` does not import the scheduler command's module)."""

from __future__ import annotations

from datetime import timedelta

import typer


def scheduler_options(horizon: float, max_runs: int, catchup: int) -> dict[str, object]:
    """The Scheduler keyword arguments the shared CLI options give."""
    return {"horizon": timedelta(seconds=horizon), "max_runs": max_runs, "catchup": catchup}


HORIZON = typer.Option(3600.0, "--horizon", min=1, help="Create runs this many seconds ahead.")
MAX_RUNS = typer.Option(100, "--max-runs", min=1, help="Most runs per schedule per tick.")
CATCHUP = typer.Option(1, "--catchup", min=0, help="After downtime, create this many of the most "
                       "recent missed runs per schedule (the rest are recorded as skipped).")
