"""Which workers are polling which pools, and when each last did (for ``/work-pools``)."""

from __future__ import annotations

from sqlalchemy import select

from stowflow.db import WorkerRecord, session, utcnow


def beat(name: str, pool: str | None) -> None:
    """Record that worker ``name`` of ``pool`` is alive now (insert or refresh its row)."""
    now = utcnow()
    with session() as db:
        record = db.scalar(select(WorkerRecord).where(WorkerRecord.name == name,
                                                      WorkerRecord.work_pool_name == pool))
        if record is None:
            db.add(WorkerRecord(name=name, work_pool_name=pool, started=now, heartbeat_at=now))
        else:
            record.heartbeat_at = now


def list_workers(pool: str | None = None) -> list[WorkerRecord]:
    """Return the workers seen (of ``pool`` when given), the most recently alive first."""
    query = select(WorkerRecord).order_by(WorkerRecord.heartbeat_at.desc())
    if pool is not None:
        query = query.where(WorkerRecord.work_pool_name == pool)
    with session() as db:
        return list(db.scalars(query))
