"""The run inside a container: ``python -m stowflow_docker.container`` (the image's command).

A container never gets database credentials, so it cannot report to the database itself.
The worker writes one JSON line to the container's stdin — the run id, entrypoint,
parameters, the pull steps with every placeholder already resolved, and the secret values
they carry (so this side redacts them too) — and keeps stdin open. The container reports
back on stdout: every line starting with :data:`MARKER` is one JSON message
(``running``, ``logs``, ``event``, ``code_version``, ``final``); anything else a
subprocess prints is raw output. The worker turns the messages into states, phase events
and log lines (see :mod:`stowflow_docker.worker`).

When stdin reaches its end the worker is gone (``StdinOnce`` closes it when the worker's
attach connection closes, for any reason), and the run stops at once: a dead worker leaves
no container running.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

MARKER = "\x1estowflow:"
_lock = threading.Lock()
_out: TextIO = sys.__stdout__ or sys.stdout


def emit(message: dict[str, Any]) -> None:
    """Send one message to the worker (one marked JSON line on the real stdout)."""
    line = MARKER + json.dumps(message, default=str) + "\n"
    with _lock:
        _out.write(line)
        _out.flush()


@contextlib.contextmanager
def phase(name: str) -> Iterator[Any]:
    """Time the block as phase ``name`` and report it: ok (or skipped), or failed if it raised."""
    from stowflow.redact import redact_data
    from stowflow.runs.logs import PhaseTimer

    timer = PhaseTimer()
    start = time.perf_counter()
    try:
        yield timer
    except BaseException as exc:
        timer.details.setdefault("error", f"{type(exc).__name__}: {exc}")
        emit({"event": {"phase": name, "status": "failed",
                        "duration_s": time.perf_counter() - start,
                        "details": redact_data(timer.details)}})
        raise
    emit({"event": {"phase": name, "status": timer.status,
                    "duration_s": time.perf_counter() - start,
                    "details": redact_data(timer.details)}})


def _watch_stdin() -> None:
    """Exit when the worker's end of stdin closes (the worker died or gave up on us)."""

    def watch() -> None:
        while sys.stdin.buffer.read(65536):
            pass
        os._exit(70)

    threading.Thread(target=watch, name="stowflow-worker-watch", daemon=True).start()


def _install(job: dict[str, Any], pull_steps: list[Any]) -> None:
    """Open the run's environment (core's :mod:`stowflow.envs.run`, layers cached in the
    image's volume) and install ``EXTRA_PIP_PACKAGES`` and missing ``requires:`` into it."""
    from stowflow.envs import ENV_VAR, masked, parse_packages
    from stowflow.envs.layers import split_installed
    from stowflow.envs.run import enter
    from stowflow.workers.execute import missing_step_requirements

    def record(status: str, seconds: float, details: dict[str, Any]) -> None:
        emit({"event": {"phase": "install", "status": status, "duration_s": seconds,
                        "details": details}})

    run_env = enter(used_by=job.get("deployment"), record=record)
    packages, present = split_installed(parse_packages(os.environ.get(ENV_VAR)))
    with phase("install") as p:
        required = missing_step_requirements(pull_steps)
        p.details.update(packages=masked(packages), requires=required)
        if present:  # the image has them: a layer copy would never be imported
            p.details["already_installed"] = present
        if not packages and not required:
            p.status = "skipped"
            return
        p.details.update(run_env.install([*packages, *required], source=ENV_VAR, report=False))
        logging.getLogger("stowflow.run").info(
            "installed for this run: %s (%s)", " ".join(p.details["inputs"]),
            "cached" if p.details["cached"] else "built")


def _transfer(pull_steps: list[Any]) -> Path:
    from stowflow.steps import run_steps

    with phase("transfer") as p:
        outputs = run_steps(pull_steps) if pull_steps else {}
        directory = Path(outputs.get("directory") or Path.cwd())
        os.chdir(directory)
        version = outputs.get("commit_sha") or outputs.get("version")
        p.details.update(directory=str(directory), code_version=version, steps=len(pull_steps))
        if version:
            emit({"code_version": str(version)[:200]})
    return directory


def _run(job: dict[str, Any]) -> None:
    from stowflow.flows import load_flow_from_entrypoint
    from stowflow.workers.execute import PhaseFailed

    current = "install"
    try:
        pull_steps = list(job.get("pull_steps") or [])
        _install(job, pull_steps)
        current = "transfer"
        root = _transfer(pull_steps)
        current = "import"
        with phase("import") as p:
            p.details["entrypoint"] = job["entrypoint"]
            flow = load_flow_from_entrypoint(job["entrypoint"], root)
            params = flow.validate_parameters(job.get("parameters") or {})
        current = "run"
        with phase("run"):
            result = flow(**params)
            if inspect.iscoroutine(result):
                asyncio.run(result)
    except (Exception, KeyboardInterrupt) as exc:
        raise PhaseFailed(current, exc) from exc


def main() -> int:
    """Read the job from stdin, run it, report everything on stdout; return the exit code."""
    line = sys.stdin.readline()
    if not line.strip():
        print("stowflow_docker.container: no job on stdin (the worker starts this)",
              file=sys.stderr)
        return 2
    job = json.loads(line)
    _watch_stdin()

    from stowflow.errors import StowflowError
    from stowflow.redact import install_logging_filter, redact, register_secret
    from stowflow.workers.capture import LineWriter, LogSink, SinkHandler
    from stowflow.workers.execute import PhaseFailed

    for secret in job.get("secrets") or []:
        register_secret(secret)
    os.environ["STOWFLOW_FLOW_RUN_ID"] = job["run_id"]

    def send(_run_id: str, lines: list[tuple[str, str]]) -> int:
        emit({"logs": [[level, redact(message)] for level, message in lines]})
        return len(lines)

    sink = LogSink(job["run_id"], writer=send).start()
    sys.stdout, sys.stderr = LineWriter(sink, "INFO"), LineWriter(sink, "ERROR")
    handler = SinkHandler(sink)
    handler.addFilter(lambda record: not (record.funcName == "logged_print"
                                          and record.name.startswith("stowflow.flows.")))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    install_logging_filter()

    def on_term(signum: int, _frame: Any) -> None:
        sink.emit("ERROR", f"run stopped by signal {signal.Signals(signum).name}")
        sink.close()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)  # PID 1 gets no default SIGTERM handling
    emit({"running": True})
    final: dict[str, Any] = {"state": "COMPLETED", "message": None}
    code = 0
    try:
        _run(job)
    except PhaseFailed as failure:
        cause = failure.__cause__
        if cause is not None and not isinstance(cause, StowflowError):
            sink.emit("ERROR", "".join(traceback.format_exception(cause)).rstrip())
        sink.emit("ERROR", str(failure))
        final, code = {"state": "FAILED", "message": str(failure)}, 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sink.close()
    emit({"final": final})
    return code


if __name__ == "__main__":
    sys.exit(main())
