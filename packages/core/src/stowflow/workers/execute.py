"""The run process: ``python -m stowflow.workers.execute RUN_ID`` (or ``--fork-server``).

A worker starts this in the run's fresh workspace with the run's environment. It marks the
run RUNNING, then goes through the phases — install (the run's environment layer), auth
(load the credential blocks the pull steps name), transfer (the pull steps; the last
``directory`` output becomes the working directory), import (the entrypoint, and the
parameters validated by the flow), run (call the flow) — recording one event per phase
with its duration, and ends in COMPLETED (exit 0) or FAILED (exit 1). Prints and log
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

import asyncio
import contextlib
import inspect
import json
import logging
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from stowflow.db import get_engine
from stowflow.errors import StowflowError
from stowflow.redact import install_logging_filter, redact
from stowflow.runs import (
    InvalidTransitionError,
    State,
    deployment_for_run,
    get_flow_run,
    phase,
    set_state,
    update_run,
)
from stowflow.workers.capture import LineWriter, LogSink, SinkHandler
from stowflow.workers.lifeline import watch_worker

WORKER_ENV = "STOWFLOW_WORKER_NAME"
RUN_ENV = "STOWFLOW_FLOW_RUN_ID"
#: Exit code of a run process that could not start the run (it is still PENDING).
EXIT_NOT_STARTED = 75

log = logging.getLogger("stowflow.run")


class PhaseFailed(Exception):
    """A phase raised; carries which one so the final state message can say so."""

    def __init__(self, phase_name: str, cause: BaseException) -> None:
        super().__init__(f"{phase_name} failed: {describe(cause)}")
        self.phase_name = phase_name


def describe(exc: BaseException) -> str:
    """Return a one-line, redacted description of an exception."""
    if isinstance(exc, StowflowError):
        return str(exc)
    return redact(f"{type(exc).__name__}: {exc}")


def missing_step_requirements(pull_steps: list[Any]) -> list[str]:
    """Return the ``requires:`` of the pull steps that no installed distribution satisfies."""
    from stowflow.steps.engine import parse_step
    from stowflow.steps.requires import missing_requirements, parse_requirements

    wanted = []
    for index, step in enumerate(pull_steps):
        path, settings = parse_step(step, index)
        wanted.extend(parse_requirements(settings.get("requires"),
                                         step=str(settings.get("id") or path)))
    return [str(r) for r in missing_requirements(wanted)]


def _install(run_id: str, deployment: dict[str, Any], pull_steps: list[Any]) -> None:
    """Open the run's environment (:mod:`stowflow.envs.run`: everything the run installs
    goes into a cached layer, never into the worker's own environment) and install
    ``EXTRA_PIP_PACKAGES`` and what the pull steps' ``requires:`` lack into it."""
    from stowflow.envs import ENV_VAR, masked, parse_packages
    from stowflow.envs.layers import split_installed
    from stowflow.envs.run import enter
    from stowflow.runs import record_event

    def record(status: str, seconds: float, details: dict[str, Any]) -> None:
        record_event(run_id, "install", status=status, duration_s=seconds, details=details)

    run_env = enter(used_by=f"{deployment.get('flow_name')}/{deployment.get('name')}",
                    record=record)
    packages, present = split_installed(parse_packages(os.environ.get(ENV_VAR)))
    with phase(run_id, "install") as p:
        required = missing_step_requirements(pull_steps)
        p.details.update(packages=masked(packages), requires=required)
        if present:
            p.details["already_installed"] = present
        if not packages and not required:
            p.status = "skipped"
        else:
            p.details.update(run_env.install([*packages, *required], source=ENV_VAR,
                                             report=False))
            log.info("installed for this run: %s (%s)", " ".join(p.details["inputs"]),
                     "cached" if p.details["cached"] else "built")


def load_pull_step_blocks(pull_steps: list[Any]) -> list[str]:
    """Load every block the pull steps reference (``slug/name``, returned): decrypting them
    registers their secret values with the redactor."""
    from stowflow.placeholders import block_refs, placeholder_for
    from stowflow.steps.templating import resolve

    refs = block_refs(pull_steps)
    for ref in refs:
        resolve(placeholder_for(*ref.split("/", 1)))
    return refs


def _auth(run_id: str, pull_steps: list[Any]) -> None:
    """Load the pull steps' blocks before any step runs, so their secrets are masked from
    the first line on, and time credential loading on its own."""
    with phase(run_id, "auth") as p:
        p.details["blocks"] = load_pull_step_blocks(pull_steps)
        if not p.details["blocks"]:
            p.status = "skipped"


def _transfer(run_id: str, pull_steps: list[Any]) -> Path:
    from stowflow.steps import run_steps

    with phase(run_id, "transfer") as p:
        outputs = run_steps(pull_steps) if pull_steps else {}
        directory = Path(outputs.get("directory") or Path.cwd())
        os.chdir(directory)
        version = outputs.get("commit_sha") or outputs.get("version")
        p.details.update(directory=str(directory), code_version=version,
                         steps=len(pull_steps))
        if version:
            update_run(run_id, code_version=str(version)[:200])
    return directory


def _import(run_id: str, entrypoint: str, root: Path, parameters: dict[str, Any]) -> Any:
    from stowflow.flows import load_flow_from_entrypoint

    with phase(run_id, "import") as p:
        p.details["entrypoint"] = entrypoint
        flow = load_flow_from_entrypoint(entrypoint, root)
        params = flow.validate_parameters(parameters)
    return flow, params


def _run_phases(run_id: str) -> None:
    current = "resolve"
    try:
        run = get_flow_run(run_id)
        deployment = deployment_for_run(run)
        from stowflow.runs.retry import pull_steps_for

        # A retry on the exact code (runs/retry.py) runs its pull steps pinned.
        pull_steps = pull_steps_for(run, list(deployment.get("pull_steps") or []))
        current = "install"
        _install(run_id, deployment, pull_steps)
        current = "auth"
        _auth(run_id, pull_steps)
        current = "transfer"
        root = _transfer(run_id, pull_steps)
        current = "import"
        flow, params = _import(run_id, deployment["entrypoint"], root, run.parameters or {})
        current = "run"
        with phase(run_id, "run"):
            result = flow(**params)
            if inspect.iscoroutine(result):  # an ``async def`` flow
                asyncio.run(result)
    except (Exception, KeyboardInterrupt) as exc:
        raise PhaseFailed(current, exc) from exc


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
    run_id = args[0]
    os.environ[RUN_ENV] = run_id
    try:
        get_engine()  # connect (and check migrations) before capture, so none of that is logged
    except Exception as exc:  # the database is unreachable: the run never started
        print(f"stowflow: the run could not start: {describe(exc)}", file=sys.stderr)
        return EXIT_NOT_STARTED
    sink = LogSink(run_id).start()
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = LineWriter(sink, "INFO"), LineWriter(sink, "ERROR")
    root_logger = logging.getLogger()
    handler = SinkHandler(sink)
    # stdout is captured already; @flow(log_prints=True) would log every print a second time.
    handler.addFilter(lambda record: not (record.funcName == "logged_print"
                                          and record.name.startswith("stowflow.flows.")))
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.INFO)
    install_logging_filter()

    def on_term(signum: int, _frame: Any) -> None:
        sink.emit("ERROR", f"run stopped by signal {signal.Signals(signum).name}")
        sink.close()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)

    def finish() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        sink.close()

    try:
        set_state(run_id, State.RUNNING, worker_name=os.environ.get(WORKER_ENV))
    except InvalidTransitionError as exc:  # cancelled or reaped before we got going
        finish()
        sys.stdout, sys.stderr = real_out, real_err
        print(str(exc), file=sys.stderr)
        return 3
    except Exception as exc:  # the database went away: the run never started
        with contextlib.suppress(Exception):
            finish()
        sys.stdout, sys.stderr = real_out, real_err
        print(f"stowflow: the run could not start: {describe(exc)}", file=sys.stderr)
        return EXIT_NOT_STARTED
    final, message, code = State.COMPLETED, None, 0
    try:
        _run_phases(run_id)
    except PhaseFailed as failure:
        cause = failure.__cause__
        if cause is not None and not isinstance(cause, StowflowError):
            sink.emit("ERROR", "".join(traceback.format_exception(cause)).rstrip())
        sink.emit("ERROR", str(failure))
        final, message, code = State.FAILED, str(failure), 1
    finally:
        finish()
        sys.stdout, sys.stderr = real_out, real_err
    try:
        set_state(run_id, final, message=message)
    except InvalidTransitionError as exc:  # cancelled or reaped while running
        print(str(exc), file=sys.stderr)
        return 3
    return code


if __name__ == "__main__":
    sys.exit(main())
