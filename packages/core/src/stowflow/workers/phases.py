"""The phases of a run, written once for every place a run executes.

A run goes install (the run's environment layer: ``EXTRA_PIP_PACKAGES`` and what the pull
steps' ``requires:`` lack), auth (load the blocks the pull steps name, so their secrets are
masked from the first line on), transfer (the pull steps; the last ``directory`` output
becomes the working directory), import (the entrypoint, parameters validated by the flow)
and run (call the flow). Each phase reports one event with its duration and details.

Where they go is a :class:`Reporter`: the run subprocess (:mod:`~stowflow.workers.execute`)
uses :class:`DatabaseReporter`, which writes the run's events and code version to the
database; a container run (``stowflow_docker.container``), which has no database, reports
the same things as messages on its stdout. :func:`capture_output`, :func:`stop_on_sigterm`
and :func:`report_failure` are the output capture both share around the phases.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from stowflow.errors import StowflowError
from stowflow.redact import install_logging_filter, redact
from stowflow.timing import PhaseTimer, timed_phase
from stowflow.workers.capture import LineWriter, LogSink, SinkHandler

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


class Reporter(Protocol):
    """Where a run's phases report: their events and the code version the pull found."""

    def record(self, phase: str, status: str, duration_s: float,
               details: dict[str, Any]) -> None:
        """Report that ``phase`` ended with ``status`` after ``duration_s`` seconds."""
        ...

    def code_version(self, version: str) -> None:
        """Report the commit or version the pull steps fetched."""
        ...


class DatabaseReporter:
    """Reports a run's phases to the database (the run subprocess)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def record(self, phase: str, status: str, duration_s: float,
               details: dict[str, Any]) -> None:
        """Record the phase's event."""
        from stowflow.runs import record_event

        record_event(self.run_id, phase, status=status, duration_s=duration_s, details=details)

    def code_version(self, version: str) -> None:
        """Record the run's code version."""
        from stowflow.runs import update_run

        update_run(self.run_id, code_version=version[:200])


def phase(reporter: Reporter, name: str) -> contextlib.AbstractContextManager[PhaseTimer]:
    """Time the block as phase ``name``, reported through ``reporter``."""
    return timed_phase(name, reporter.record)


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


def load_pull_step_blocks(pull_steps: list[Any]) -> list[str]:
    """Load every block the pull steps reference (``slug/name``, returned): decrypting them
    registers their secret values with the redactor."""
    from stowflow.placeholders import block_refs, placeholder_for
    from stowflow.steps.templating import resolve

    refs = block_refs(pull_steps)
    for ref in refs:
        resolve(placeholder_for(*ref.split("/", 1)))
    return refs


def install(reporter: Reporter, used_by: str, pull_steps: list[Any]) -> None:
    """Open the run's environment (:mod:`stowflow.envs.run`: everything the run installs
    goes into a cached layer, never into the worker's own environment) and install
    ``EXTRA_PIP_PACKAGES`` and what the pull steps' ``requires:`` lack into it."""
    from stowflow.envs import ENV_VAR, masked, parse_packages
    from stowflow.envs.layers import split_installed
    from stowflow.envs.run import enter

    def record(status: str, seconds: float, details: dict[str, Any]) -> None:
        reporter.record("install", status, seconds, details)

    run_env = enter(used_by=used_by, record=record)
    packages, present = split_installed(parse_packages(os.environ.get(ENV_VAR)))
    with phase(reporter, "install") as p:
        required = missing_step_requirements(pull_steps)
        p.details.update(packages=masked(packages), requires=required)
        if present:  # already importable here: a layer copy would never be imported
            p.details["already_installed"] = present
        if not packages and not required:
            p.status = "skipped"
            return
        p.details.update(run_env.install([*packages, *required], source=ENV_VAR,
                                         report=False))
        log.info("installed for this run: %s (%s)", " ".join(p.details["inputs"]),
                 "cached" if p.details["cached"] else "built")


def auth(reporter: Reporter, pull_steps: list[Any]) -> None:
    """Load the pull steps' blocks before any step runs, timed on its own."""
    with phase(reporter, "auth") as p:
        p.details["blocks"] = load_pull_step_blocks(pull_steps)
        if not p.details["blocks"]:
            p.status = "skipped"


def transfer(reporter: Reporter, pull_steps: list[Any]) -> Path:
    """Run the pull steps; enter (and return) the folder they leave the code in."""
    from stowflow.steps import run_steps

    with phase(reporter, "transfer") as p:
        outputs = run_steps(pull_steps) if pull_steps else {}
        directory = Path(outputs.get("directory") or Path.cwd())
        os.chdir(directory)
        version = outputs.get("commit_sha") or outputs.get("version")
        p.details.update(directory=str(directory), code_version=version,
                         steps=len(pull_steps))
        if version:
            reporter.code_version(str(version))
    return directory


def run_phases(reporter: Reporter, *, used_by: str, entrypoint: str,
               parameters: dict[str, Any], pull_steps: list[Any],
               load_blocks: bool = True) -> None:
    """Run install, auth (when ``load_blocks``: a container got its blocks resolved by the
    worker), transfer, import and run; raise :class:`PhaseFailed` naming the phase."""
    from stowflow.flows import load_flow_from_entrypoint

    current = "install"
    try:
        install(reporter, used_by, pull_steps)
        if load_blocks:
            current = "auth"
            auth(reporter, pull_steps)
        current = "transfer"
        root = transfer(reporter, pull_steps)
        current = "import"
        with phase(reporter, "import") as p:
            p.details["entrypoint"] = entrypoint
            flow = load_flow_from_entrypoint(entrypoint, root)
            params = flow.validate_parameters(parameters)
        current = "run"
        with phase(reporter, "run"):
            result = flow(**params)
            if inspect.iscoroutine(result):  # an ``async def`` flow
                asyncio.run(result)
    except (Exception, KeyboardInterrupt) as exc:
        raise PhaseFailed(current, exc) from exc


def capture_output(sink: LogSink) -> Callable[[], None]:
    """Send prints, stderr and log records into ``sink`` (redacted); return the function
    that flushes and closes it and puts stdout and stderr back."""
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = LineWriter(sink, "INFO"), LineWriter(sink, "ERROR")
    handler = SinkHandler(sink)
    # stdout is captured already; @flow(log_prints=True) would log every print a second time.
    handler.addFilter(lambda record: not (record.funcName == "logged_print"
                                          and record.name.startswith("stowflow.flows.")))
    root_logger = logging.getLogger()
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.INFO)
    install_logging_filter()

    def restore() -> None:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            sink.close()
        finally:
            sys.stdout, sys.stderr = real_out, real_err

    return restore


def stop_on_sigterm(sink: LogSink) -> None:
    """On SIGTERM (a cancel), log it and exit at once with 128 + the signal number."""

    def on_term(signum: int, _frame: Any) -> None:
        sink.emit("ERROR", f"run stopped by signal {signal.Signals(signum).name}")
        sink.close()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)


def report_failure(sink: LogSink, failure: PhaseFailed) -> str:
    """Log a failed phase (the traceback unless it is a stowflow error); return the run's
    final message."""
    cause = failure.__cause__
    if cause is not None and not isinstance(cause, StowflowError):
        sink.emit("ERROR", "".join(traceback.format_exception(cause)).rstrip())
    sink.emit("ERROR", str(failure))
    return str(failure)
