"""A run process's lifeline: it exits as soon as the worker that started it is gone.

The worker names itself in ``STOWFLOW_WORKER_PID`` in the environment of every process it
starts (run processes and its fork server; a run forked by the fork server watches the
server instead, see ``forkserver.py``). The child compares that with
``os.getppid()``: once the worker dies the child is re-parented (to init or a subreaper),
so the comparison is right even when the worker died before the child ran a single line —
the old check captured ``getppid()`` after the child's imports and, when the worker had
died meanwhile, took init for its worker and ran on. ``PR_SET_PDEATHSIG`` was not chosen:
it fires when the *thread* that started the child exits, and workers run in threads
(``flow.serve`` in a notebook, tests).

This module imports only the standard library: ``execute`` calls :func:`watch_worker`
before its own imports.
"""

from __future__ import annotations

import os
import threading

WORKER_PID_ENV = "STOWFLOW_WORKER_PID"
#: Exit code of a run process that stopped because its worker was gone.
EXIT_WORKER_GONE = 70

_watching = threading.Event()


def worker_pid() -> int | None:
    """Return the pid of the worker that started this process (``None``: not a worker's)."""
    value = os.environ.get(WORKER_PID_ENV, "")
    return int(value) if value.isdigit() else None


def worker_gone() -> bool:
    """Return whether this process was started by a worker that is no longer its parent."""
    expected = worker_pid()
    return expected is not None and os.getppid() != expected


def reset_after_fork() -> None:
    """Forget the watch thread (a forked child has none) so :func:`watch_worker` starts
    one for this process."""
    _watching.clear()


def watch_worker(interval: float = 0.2) -> None:
    """Exit now if the worker is gone, and from a daemon thread as soon as it goes
    (one thread per process, however often this is called)."""
    if worker_gone():
        os._exit(EXIT_WORKER_GONE)
    if worker_pid() is None or _watching.is_set():
        return
    _watching.set()

    def watch() -> None:
        stop = threading.Event()
        while not stop.wait(interval):
            if worker_gone():
                os._exit(EXIT_WORKER_GONE)

    threading.Thread(target=watch, name="stowflow-worker-watch", daemon=True).start()
