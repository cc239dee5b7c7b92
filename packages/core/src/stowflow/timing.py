"""Timing one phase of a run, reported through a callback (no database here).

:func:`timed_phase` is what both sides of a run use: :func:`stowflow.runs.logs.phase`
records the event in the database (the worker, the run subprocess), and a container run
(``stowflow_docker.container``), which has no database, sends it on its stdout. Keeping it
out of :mod:`stowflow.runs` means the container never imports SQLAlchemy or the settings.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PhaseTimer:
    """What a phase reports about itself while it runs: ``details``, and ``status``
    (``ok`` unless the block sets ``skipped`` because there was nothing to do)."""

    details: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"


#: Where a timed phase reports itself: ``record(phase, status, duration_s, details)``.
PhaseRecorder = Callable[[str, str, float, dict[str, Any]], None]


@contextlib.contextmanager
def timed_phase(name: str, record: PhaseRecorder) -> Iterator[PhaseTimer]:
    """Time the block as phase ``name`` and report it once through ``record``: ok (or the
    status the block set), or failed — with the error in its details — if it raised."""
    timer = PhaseTimer()
    start = time.perf_counter()
    try:
        yield timer
    except BaseException as exc:
        timer.details.setdefault("error", f"{type(exc).__name__}: {exc}")
        record(name, "failed", time.perf_counter() - start, timer.details)
        raise
    record(name, timer.status, time.perf_counter() - start, timer.details)
