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
no container running. The worker also writes a newline to stdin every few seconds; when
the job names ``lifeline_s`` and nothing arrives for that long, the worker is cut off (a
network partition closes no connection) and the run stops the same way. That channel is
the worker's alone: the job line is read straight from the descriptor, the channel moves
to a private descriptor, and descriptor 0 — what the flow and every subprocess it starts
inherit — becomes ``/dev/null``, so a flow reading stdin sees its end, never a keepalive.
"""

from __future__ import annotations

import json
import os
import select
import sys
import threading
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


class StdoutReporter:
    """Reports the run's phases to the worker as messages (the container has no database)."""

    def record(self, phase: str, status: str, duration_s: float,
               details: dict[str, Any]) -> None:
        """Send the phase's event."""
        from stowflow.redact import redact_data

        emit({"event": {"phase": phase, "status": status, "duration_s": duration_s,
                        "details": redact_data(details)}})

    def code_version(self, version: str) -> None:
        """Send the code version the pull steps fetched."""
        emit({"code_version": version[:200]})


def _take_worker_channel() -> tuple[str, int]:
    """Read the job line from descriptor 0 and move the worker's channel off it.

    Returns the job line and a private descriptor of the channel; descriptor 0 is then
    ``/dev/null``. The line is read with ``os.read``, not through ``sys.stdin``, so no
    buffered reader holds read-ahead keepalives that the flow would later see.
    """
    received = b""
    while b"\n" not in received:
        chunk = os.read(0, 65536)
        if not chunk:
            break
        received += chunk
    channel = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return received.split(b"\n", 1)[0].decode(), channel


def _watch_stdin(fd: int, silence_s: float | None = None) -> None:
    """Exit when the worker's end of the channel ``fd`` closes (the worker died or gave up
    on us), or when it has sent nothing for ``silence_s`` seconds (it is cut off from us)."""

    def watch() -> None:
        # A raw descriptor, not a buffered reader: a daemon thread blocked inside one holds
        # its lock, and the interpreter aborts (SIGABRT) when it then closes it at exit — a
        # run that completed would end with exit code 134.
        while True:
            ready, _, _ = select.select([fd], [], [], silence_s)
            if not ready:
                os.write(2, f"stowflow_docker.container: the worker sent nothing for "
                            f"{silence_s:g} s (cut off): stopping the run\n".encode())
                break
            if not os.read(fd, 65536):
                break
        os._exit(70)

    threading.Thread(target=watch, name="stowflow-worker-watch", daemon=True).start()


def main() -> int:
    """Read the job from stdin, run it, report everything on stdout; return the exit code."""
    line, channel = _take_worker_channel()
    if not line.strip():
        print("stowflow_docker.container: no job on stdin (the worker starts this)",
              file=sys.stderr)
        return 2
    job = json.loads(line)
    _watch_stdin(channel, job.get("lifeline_s"))

    from stowflow.redact import redact, register_secret
    from stowflow.workers.capture import LogSink
    from stowflow.workers.phases import (
        PhaseFailed,
        capture_output,
        report_failure,
        run_phases,
        stop_on_sigterm,
    )

    for secret in job.get("secrets") or []:
        register_secret(secret)
    os.environ["STOWFLOW_FLOW_RUN_ID"] = job["run_id"]

    def send(_run_id: str, lines: list[tuple[str, str]]) -> int:
        emit({"logs": [[level, redact(message)] for level, message in lines]})
        return len(lines)

    # Each line goes out as it is printed: a container killed for its memory would lose
    # whatever a buffer still held, and those are the lines that say what it was doing.
    sink = LogSink(job["run_id"], writer=send, flush_interval=None).start()
    finish = capture_output(sink)
    stop_on_sigterm(sink)  # PID 1 gets no default SIGTERM handling
    emit({"running": True})
    final: dict[str, Any] = {"state": "COMPLETED", "message": None}
    code = 0
    try:
        run_phases(StdoutReporter(), used_by=str(job.get("deployment")),
                   entrypoint=job["entrypoint"], parameters=job.get("parameters") or {},
                   pull_steps=list(job.get("pull_steps") or []), load_blocks=False)
    except PhaseFailed as failure:
        final, code = {"state": "FAILED", "message": report_failure(sink, failure)}, 1
    finally:
        finish()
    emit({"final": final})
    return code


if __name__ == "__main__":
    sys.exit(main())
