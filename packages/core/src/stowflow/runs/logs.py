"""Run logs and phase events: write them (redacted) and read them back."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from stowflow.db import RunEventRecord, RunLogRecord, session, utcnow
from stowflow.redact import redact, redact_data
from stowflow.timing import PhaseTimer, timed_phase

#: The phases of a run, in the order ``flow-run inspect`` shows them.
PHASES = ("resolve", "install", "auth", "transfer", "import", "run")


def write_logs(run_id: str, lines: Iterable[tuple[str, str]]) -> int:
    """Append ``(level, message)`` lines to the run's log, each redacted; return how many."""
    records = [RunLogRecord(flow_run_id=run_id, level=level[:10], message=redact(message),
                            timestamp=utcnow())
               for level, message in lines]
    if records:
        with session() as db:
            db.add_all(records)
    return len(records)


def read_logs(run_id: str, after_id: int = 0, limit: int = 10_000) -> list[RunLogRecord]:
    """Return the run's log lines with id greater than ``after_id``, oldest first."""
    with session() as db:
        return list(db.scalars(
            select(RunLogRecord)
            .where(RunLogRecord.flow_run_id == run_id, RunLogRecord.id > after_id)
            .order_by(RunLogRecord.id).limit(limit)))


def read_log_page(run_id: str, *, before_id: int | None = None,
                  limit: int = 200) -> tuple[list[RunLogRecord], bool]:
    """Return the ``limit`` log lines just before ``before_id`` (the newest when ``None``),
    oldest first, and whether older lines exist — for paging through a large log."""
    query = select(RunLogRecord).where(RunLogRecord.flow_run_id == run_id)
    if before_id is not None:
        query = query.where(RunLogRecord.id < before_id)
    with session() as db:
        rows = list(db.scalars(query.order_by(RunLogRecord.id.desc()).limit(limit + 1)))
    return list(reversed(rows[:limit])), len(rows) > limit


def record_event(run_id: str, phase: str, *, status: str = "ok",
                 duration_s: float | None = None, details: dict[str, Any] | None = None) -> None:
    """Record that a phase of the run finished (``status`` ok or failed) and how long it took."""
    safe = redact_data(details or {})
    with session() as db:
        db.add(RunEventRecord(flow_run_id=run_id, phase=phase, status=status,
                              duration_s=duration_s, details=safe, timestamp=utcnow()))


def read_events(run_id: str) -> list[RunEventRecord]:
    """Return the run's phase events, oldest first."""
    with session() as db:
        return list(db.scalars(select(RunEventRecord).where(RunEventRecord.flow_run_id == run_id)
                               .order_by(RunEventRecord.id)))


def phase(run_id: str, name: str) -> contextlib.AbstractContextManager[PhaseTimer]:
    """Time the block as phase ``name`` and record one event: ok, or failed if it raised."""
    def record(phase_name: str, status: str, seconds: float, details: dict[str, Any]) -> None:
        record_event(run_id, phase_name, status=status, duration_s=seconds, details=details)

    return timed_phase(name, record)
