"""The run process: ``python -m stowflow.workers.execute RUN_ID`` (or ``--fork-server``).

A worker starts this in the run's fresh workspace with the run's environment. It marks the
run RUNNING, then goes through the phases of :mod:`~stowflow.workers.phases` — install,
auth, transfer, import, run — recording one event per phase in the database with its
duration, and ends in COMPLETED (exit 0) or FAILED (exit 1). Prints and log
records go to the run log, redacted. It exits by itself as soon as its worker is gone
(:mod:`~stowflow.workers.lifeline`, checked before any of this module's imports).

A run that cannot start — the database unreachable at start-up, RUNNING not recordable —
exits with :data:`EXIT_NOT_STARTED` and the reason on stderr; the worker sees the run still
PENDING and hands it back to SCHEDULED (``claim.hand_back``).

With ``--fork-server [PLAN]`` it becomes the worker's fork server instead
(:mod:`~stowflow.workers.forkserver`): it imports what every run needs once and forks a
process per run, each of which runs :func:`main` as above.
"""

from __future__ import annotations

if __name__ == "__main__":  # the run process: exit at once if the worker is already gone
    from stowflow.workers.lifeline import watch_worker

    watch_worker()

import contextlib
import json
import os
import sys
from collections.abc import Callable

from stowflow.db import get_engine
from stowflow.runs import (
    InvalidTransitionError,
    State,
    deployment_for_run,
    get_flow_run,
    set_state,
)
from stowflow.workers.capture import LogSink
from stowflow.workers.lifeline import watch_worker
from stowflow.workers.phases import (
    DatabaseReporter,
    PhaseFailed,
    capture_output,
    describe,
    load_pull_step_blocks,
    missing_step_requirements,
    report_failure,
    run_phases,
    stop_on_sigterm,
)

WORKER_ENV = "STOWFLOW_WORKER_NAME"
RUN_ENV = "STOWFLOW_FLOW_RUN_ID"
#: Exit code of a run process that could not start the run (it is still PENDING).
EXIT_NOT_STARTED = 75

#: Re-exported: the phases live in :mod:`stowflow.workers.phases` (shared with containers).
__all__ = ["EXIT_NOT_STARTED", "RUN_ENV", "WORKER_ENV", "PhaseFailed", "describe",
           "load_pull_step_blocks", "main", "missing_step_requirements", "preimport"]


def _run_phases(run_id: str) -> None:
    try:
        run = get_flow_run(run_id)
        deployment = deployment_for_run(run)
        from stowflow.runs.retry import pull_steps_for

        # A retry on the exact code (runs/retry.py) runs its pull steps pinned.
        pull_steps = pull_steps_for(run, list(deployment.get("pull_steps") or []))
    except (Exception, KeyboardInterrupt) as exc:
        raise PhaseFailed("resolve", exc) from exc
    run_phases(DatabaseReporter(run_id),
               used_by=f"{deployment.get('flow_name')}/{deployment.get('name')}",
               entrypoint=deployment["entrypoint"], parameters=run.parameters or {},
               pull_steps=pull_steps)


def preimport(plan: dict[str, list[str]]) -> None:
    """Import the steps and block types ``plan`` names (``steps``: addresses,
    ``block_types``: slugs), ignoring any that fail: warming is an optimisation, never an
    error."""
    from stowflow.blocks import get_block_class
    from stowflow.steps.engine import import_step

    for path in plan.get("steps", []):
        with contextlib.suppress(Exception):
            import_step(path)
    for slug in plan.get("block_types", []):
        with contextlib.suppress(Exception):
            get_block_class(slug)


def main(argv: list[str] | None = None) -> int:
    """Execute the run named by ``argv[0]`` (or serve forks after ``--fork-server``);
    return the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    if not args or (args[0] != "--fork-server" and len(args) != 1) or len(args) > 2:
        print("usage: python -m stowflow.workers.execute RUN_ID | --fork-server [PLAN-JSON]",
              file=sys.stderr)
        return 2
    watch_worker()  # a no-op when the __main__ block above started it already
    if args[0] == "--fork-server":
        from stowflow.workers.forkserver import serve

        return serve(json.loads(args[1]) if len(args) == 2 else None)
    return execute_run(args[0])


def execute_run(run_id: str) -> int:
    """Execute run ``run_id`` in this process; return the process exit code.

    Four steps: connect to the database (:data:`EXIT_NOT_STARTED` when it is unreachable),
    start capturing the run's output, move the run to RUNNING (:func:`_enter_running`),
    run its phases and record the final state (:func:`_run_to_the_end`).
    """
    os.environ[RUN_ENV] = run_id
    try:
        get_engine()  # connect (and check migrations) before capture, so none of that is logged
    except Exception as exc:  # the database is unreachable: the run never started
        print(f"stowflow: the run could not start: {describe(exc)}", file=sys.stderr)
        return EXIT_NOT_STARTED
    sink = LogSink(run_id).start()
    finish = capture_output(sink)
    stop_on_sigterm(sink)
    refused = _enter_running(run_id, finish)
    if refused is not None:
        return refused
    return _run_to_the_end(run_id, sink, finish)


def _enter_running(run_id: str, finish: Callable[[], None]) -> int | None:
    """Move the run to RUNNING for this worker; return the exit code when it cannot be
    (3: cancelled or reaped meanwhile; :data:`EXIT_NOT_STARTED`: the database went away),
    ``None`` when the run may go on."""
    try:
        set_state(run_id, State.RUNNING, worker_name=os.environ.get(WORKER_ENV))
    except InvalidTransitionError as exc:  # cancelled or reaped before we got going
        finish()
        print(str(exc), file=sys.stderr)
        return 3
    except Exception as exc:  # the database went away: the run never started
        with contextlib.suppress(Exception):
            finish()
        print(f"stowflow: the run could not start: {describe(exc)}", file=sys.stderr)
        return EXIT_NOT_STARTED
    return None


def _run_to_the_end(run_id: str, sink: LogSink, finish: Callable[[], None]) -> int:
    """Run the phases, stop capturing, record COMPLETED or FAILED; return the exit code
    (0, 1 for a failed run, 3 when the run was cancelled or reaped while running)."""
    final, message, code = State.COMPLETED, None, 0
    try:
        _run_phases(run_id)
    except PhaseFailed as failure:
        final, message, code = State.FAILED, report_failure(sink, failure), 1
    finally:
        finish()
    try:
        set_state(run_id, final, message=message)
    except InvalidTransitionError as exc:  # cancelled or reaped while running
        print(str(exc), file=sys.stderr)
        return 3
    return code

if __name__ == "__main__":
    sys.exit(main())
