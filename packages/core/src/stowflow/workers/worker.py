"""The process worker: poll a pool, claim runs, run each in a subprocess, watch them.

One loop, ticking every ``tick`` seconds:

- every ``poll_interval``: mark CRASHED the runs whose worker stopped heartbeating for
  ``crash_timeout`` seconds (any worker of the pool does this for the others; a launcher
  with a ``reaped(run_ids)`` method is told, so it can remove what those runs left), then
  claim up to ``limit`` minus the runs in flight and launch them;
- every ``heartbeat_interval``: heartbeat the runs in flight; stop those whose
  cancellation was requested and mark them CANCELLED;
- reap finished subprocesses: a run that exited while still PENDING never started (the
  database was unreachable at its start-up, it died during hand-over) and is handed back
  to SCHEDULED (``claim.hand_back``, bounded attempts, the reason in its events); one that
  exited RUNNING without recording a final state (the interpreter died, a signal killed
  it) is marked CRASHED with its last raw output. When the database is down while a run
  is settled, the run stays in flight (and heartbeaten) and is settled on a later tick.

``stop()`` (or SIGINT/SIGTERM in :meth:`Worker.start`) stops claiming and lets the runs in
flight finish; a second stop cancels them. ``run_once`` claims once and exits when
those runs are done.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Collection
from types import FrameType

from sqlalchemy.exc import SQLAlchemyError

from stowflow.db import FlowRunRecord
from stowflow.errors import StowflowError
from stowflow.redact import redact
from stowflow.runs import (
    InvalidTransitionError,
    State,
    get_flow_run,
    is_final,
    set_state,
    write_logs,
)
from stowflow.workers.claim import claim_runs, hand_back, heartbeat, reap_crashed_runs
from stowflow.workers.presence import beat
from stowflow.workers.runner import Launcher, RunHandle, SubprocessLauncher

log = logging.getLogger(__name__)


def _learn_run_secrets(run: FlowRunRecord) -> None:
    """Register the secrets of the blocks the run's pull steps use, as its subprocess did."""
    from stowflow.runs import deployment_for_run
    from stowflow.workers.phases import load_pull_step_blocks

    with contextlib.suppress(Exception):  # best effort: the run is being reported anyway
        load_pull_step_blocks(list(deployment_for_run(run).get("pull_steps") or []))


def default_worker_name() -> str:
    """Return a name unique to this process: ``host-pid-random``."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    """Claims and runs the flow runs of one work pool (or of some deployments, for serve)."""

    def __init__(self, pool: str | None = None, *, deployment_ids: Collection[str] | None = None,
                 name: str | None = None, limit: int = 4, poll_interval: float = 2.0,
                 heartbeat_interval: float = 5.0, crash_timeout: float = 60.0,
                 tick: float = 0.1, cancel_grace: float = 10.0,
                 launcher: Launcher | None = None,
                 queues: Collection[str] | None = None) -> None:
        if pool is None and not deployment_ids:
            raise ValueError("a worker needs a pool or deployment ids")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.pool = pool
        self.deployment_ids = list(deployment_ids or [])
        #: The pool's queues this worker serves (all of them when empty), by priority.
        self.queues = list(queues or [])
        self.name = name or default_worker_name()
        self.limit = limit
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.crash_timeout = crash_timeout
        self.tick = tick
        self.cancel_grace = cancel_grace
        self.launcher: Launcher = launcher or SubprocessLauncher(
            warm_for=(pool, self.deployment_ids or None))
        self.active: dict[str, RunHandle] = {}
        self._cancelling: dict[str, tuple[float, str]] = {}
        #: Claimed runs whose launch failed on a database error: handed back when it is up.
        self._unstarted: dict[str, str] = {}
        self._stopping = threading.Event()
        self._aborting = threading.Event()
        self.finished: list[str] = []

    # --- control -------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; a second call also cancels the runs in flight."""
        if self._stopping.is_set():
            self._aborting.set()
        self._stopping.set()

    def start(self, *, run_once: bool = False, exit_when_idle: bool = False,
              install_signal_handlers: bool = True) -> int:
        """Run the loop until stopped (or, with ``run_once``, until one claim is done; with
        ``exit_when_idle``, until a poll finds nothing and no run is in flight).

        Returns how many runs this worker finished.
        """
        previous = {}
        if install_signal_handlers and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, self._on_signal)
        self._warm()
        try:
            self._loop(run_once=run_once, exit_when_idle=exit_when_idle)
        finally:
            close = getattr(self.launcher, "close", None)
            if callable(close):
                close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return len(self.finished)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self._stopping.is_set():
            log.warning("stopping now: cancelling %d run(s)", len(self.active))
        else:
            log.warning("stopping: waiting for %d run(s) to finish (again to cancel them)",
                        len(self.active))
        self.stop()

    # --- the loop ------------------------------------------------------------------------

    def _loop(self, *, run_once: bool, exit_when_idle: bool) -> None:
        next_poll = next_beat = 0.0
        claimed_once = False
        while True:
            try:
                now = time.monotonic()
                if self._aborting.is_set():
                    for run_id in list(self.active):
                        self._begin_cancel(run_id, "the worker was stopped")
                if now >= next_beat and self.active:
                    self._heartbeat()
                    next_beat = now + self.heartbeat_interval
                self._reap_finished()
                self._hand_back_unstarted()
                self._enforce_cancel_grace()
                stop_claiming = self._stopping.is_set() or (run_once and claimed_once)
                if now >= next_poll and not stop_claiming:
                    launched = self.poll_once()
                    claimed_once = True
                    if not run_once:
                        self._warm()  # restart the fork server if it died
                    if exit_when_idle and not launched and not self.active:
                        return
                    next_poll = now + self.poll_interval
                if (stop_claiming or (run_once and claimed_once)) and not self.active:
                    return
            except (StowflowError, SQLAlchemyError) as exc:
                # The database went away for a moment: keep the runs, try again shortly.
                log.error("worker %s: database error, retrying: %s", self.name,
                          redact(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__)
                time.sleep(max(self.poll_interval, 1.0))
                continue
            time.sleep(self.tick)

    def _warm(self) -> None:
        warm = getattr(self.launcher, "warm", None)
        if callable(warm):
            warm()

    def poll_once(self) -> int:
        """Reap crashed runs of others, claim what there is room for, launch it; return
        how many runs were launched."""
        try:
            beat(self.name, self.pool)
            crashed = reap_crashed_runs(self.crash_timeout, pool=self.pool,
                                        deployment_ids=self.deployment_ids or None,
                                        exclude_worker=self.name)
            for run_id in crashed:
                log.warning("flow run %s marked CRASHED: its worker stopped heartbeating",
                            run_id)
            reaped = getattr(self.launcher, "reaped", None)
            if crashed and callable(reaped):  # e.g. remove a dead worker's containers
                reaped(crashed)
            free = self.limit - len(self.active)
            runs = claim_runs(self.name, free, pool=self.pool,
                              deployment_ids=self.deployment_ids or None,
                              queues=self.queues or None) if free > 0 else []
        except StowflowError as exc:
            log.error("worker %s: polling failed: %s", self.name, exc)
            return 0
        for run in runs:
            self._launch(run)
        return len(runs)

    def _launch(self, run) -> None:  # type: ignore[no-untyped-def]
        if run.cancel_requested:
            self._finalize(run.id, State.CANCELLED, "cancelled before it started")
            return
        log.info("worker %s: starting flow run %s (%s)", self.name, run.id, run.name)
        try:
            self.active[run.id] = self.launcher.launch(run, self.name)
        except Exception as exc:
            text = str(exc) if isinstance(exc, StowflowError) else f"{type(exc).__name__}: {exc}"
            reason = f"could not start the run: {redact(text)}"
            if isinstance(exc, SQLAlchemyError):  # the database went away: not the run's fault
                self._unstarted[run.id] = reason
                return
            try:
                write_logs(run.id, [("ERROR", reason)])
                self._finalize(run.id, State.FAILED, reason)
            except (StowflowError, SQLAlchemyError):
                self._unstarted[run.id] = reason

    def _hand_back_unstarted(self) -> None:
        for run_id, reason in list(self._unstarted.items()):
            try:
                hand_back(run_id, self.name, reason)
            except (StowflowError, SQLAlchemyError):
                return  # still down: next tick
            del self._unstarted[run_id]

    def _heartbeat(self) -> None:
        try:
            wanted = heartbeat(self.name, list(self.active))
        except StowflowError as exc:
            log.error("worker %s: heartbeat failed: %s", self.name, exc)
            return
        for run_id in wanted:
            self._begin_cancel(run_id, "cancellation requested")

    def _begin_cancel(self, run_id: str, why: str) -> None:
        handle = self.active.get(run_id)
        if handle is None or run_id in self._cancelling:
            return
        log.info("worker %s: cancelling flow run %s (%s)", self.name, run_id, why)
        write_logs(run_id, [("WARNING", f"cancelling: {why}")])
        self._cancelling[run_id] = (time.monotonic(), why)
        handle.terminate()

    def _enforce_cancel_grace(self) -> None:
        now = time.monotonic()
        for run_id, (since, _why) in list(self._cancelling.items()):
            handle = self.active.get(run_id)
            if handle is not None and now - since > self.cancel_grace:
                handle.kill()

    def _reap_finished(self) -> None:
        for run_id, handle in list(self.active.items()):
            code = handle.poll()
            if code is None:
                continue
            try:
                self._settle(run_id, handle, code)
            except (StowflowError, SQLAlchemyError) as exc:  # try again on a later tick
                log.error("worker %s: could not settle flow run %s yet: %s", self.name, run_id,
                          redact(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__)
                continue
            del self.active[run_id]
            self._cancelling.pop(run_id, None)
            handle.cleanup()
            self.finished.append(run_id)

    def _settle(self, run_id: str, handle: RunHandle, code: int) -> None:
        """Record how a finished run process ended, unless it did so itself."""
        cancelled = self._cancelling.get(run_id)
        run = get_flow_run(run_id)
        if cancelled is not None and not is_final(run.state):
            self._finalize(run_id, State.CANCELLED, f"cancelled: {cancelled[1]}")
        elif run.state == State.PENDING.value and run.worker_name == self.name:
            tail = "\n".join(handle.output_tail().splitlines()[-3:])
            reason = f"the run process exited with code {code} before the run started" + (
                f": {tail}" if tail else "")
            now = hand_back(run_id, self.name, reason)
            log.warning("worker %s: flow run %s did not start (exit code %s): now %s",
                        self.name, run_id, code, now)
        elif not is_final(run.state):
            _learn_run_secrets(run)  # the raw output is redacted in this process
            tail = handle.output_tail()
            lines = [("ERROR", f"the run process exited with code {code} "
                               "without recording a final state")]
            if tail:
                lines.append(("ERROR", tail))
            write_logs(run_id, lines)
            self._finalize(run_id, State.CRASHED, f"the run process exited with code {code}")
        log.info("worker %s: flow run %s finished: %s", self.name, run_id,
                 get_flow_run(run_id).state)

    def _finalize(self, run_id: str, state: State, message: str) -> None:
        with contextlib.suppress(InvalidTransitionError):
            set_state(run_id, state, message=message)
