"""Claiming runs atomically, heartbeating them, and reaping runs whose worker died.

One claim is one transaction: select the oldest due SCHEDULED runs, mark them PENDING for
this worker. On PostgreSQL the select is ``FOR UPDATE SKIP LOCKED`` — concurrent workers
skip rows another one is claiming instead of waiting or double-claiming. On SQLite every
transaction begins ``IMMEDIATE`` (see ``db/engine.py``), so claims are serialised by the
database lock. The ``UPDATE ... WHERE state = 'SCHEDULED'`` re-checks the state either way.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from stowflow.db import FlowRunRecord, RunLogRecord, WorkPoolRecord, session, utcnow
from stowflow.runs.states import State

_ACTIVE = (State.PENDING.value, State.RUNNING.value)


def claim_runs(worker_name: str, limit: int, *, pool: str | None = None,
               deployment_ids: Collection[str] | None = None) -> list[FlowRunRecord]:
    """Claim up to ``limit`` due runs of ``pool`` (or of ``deployment_ids``) for ``worker_name``.

    Runs are taken oldest ``scheduled_at`` first. A paused pool yields nothing; a pool with
    a concurrency limit yields no more than its free slots. Returns the claimed runs, now
    PENDING, owned by ``worker_name``, with a fresh heartbeat.
    """
    if limit <= 0 or (pool is None and not deployment_ids):
        return []
    now = utcnow()
    with session() as db:
        if pool is not None:
            record = db.scalars(select(WorkPoolRecord).where(WorkPoolRecord.name == pool)).first()
            if record is None or record.is_paused:
                return []
            if record.concurrency_limit is not None:
                # Counting free slots is only sound if claims of this pool take turns.
                db.scalars(select(WorkPoolRecord.id).where(WorkPoolRecord.id == record.id)
                           .with_for_update()).first()
                busy = db.scalar(select(func.count()).select_from(FlowRunRecord).where(
                    FlowRunRecord.work_pool_name == pool, FlowRunRecord.state.in_(_ACTIVE)))
                limit = min(limit, max(record.concurrency_limit - int(busy or 0), 0))
                if limit == 0:
                    return []
        query = select(FlowRunRecord.id).where(
            FlowRunRecord.state == State.SCHEDULED.value, FlowRunRecord.scheduled_at <= now)
        if pool is not None:
            query = query.where(FlowRunRecord.work_pool_name == pool)
        if deployment_ids:
            query = query.where(FlowRunRecord.deployment_id.in_(list(deployment_ids)))
        query = (query.order_by(FlowRunRecord.scheduled_at, FlowRunRecord.id).limit(limit)
                 .with_for_update(skip_locked=True))
        ids = list(db.scalars(query))
        if not ids:
            return []
        db.execute(update(FlowRunRecord)
                   .where(FlowRunRecord.id.in_(ids), FlowRunRecord.state == State.SCHEDULED.value)
                   .values(state=State.PENDING.value, worker_name=worker_name,
                           heartbeat_at=now, updated=now)
                   .execution_options(synchronize_session=False))
        return list(db.scalars(select(FlowRunRecord).where(
            FlowRunRecord.id.in_(ids), FlowRunRecord.worker_name == worker_name,
            FlowRunRecord.state == State.PENDING.value).order_by(FlowRunRecord.scheduled_at)))


def heartbeat(worker_name: str, run_ids: Collection[str]) -> set[str]:
    """Refresh the heartbeat of this worker's active runs; return those asked to cancel."""
    if not run_ids:
        return set()
    now = utcnow()
    with session() as db:
        db.execute(update(FlowRunRecord)
                   .where(FlowRunRecord.id.in_(list(run_ids)),
                          FlowRunRecord.worker_name == worker_name,
                          FlowRunRecord.state.in_(_ACTIVE))
                   .values(heartbeat_at=now).execution_options(synchronize_session=False))
        return set(db.scalars(select(FlowRunRecord.id).where(
            FlowRunRecord.id.in_(list(run_ids)), FlowRunRecord.cancel_requested.is_(True))))


def reap_crashed_runs(timeout_s: float, *, pool: str | None = None,
                      deployment_ids: Collection[str] | None = None,
                      now: datetime | None = None) -> list[str]:
    """Mark CRASHED every active run whose worker has not heartbeaten for ``timeout_s``.

    Limited to ``pool`` / ``deployment_ids`` when given. Each reaped run gets a log line
    saying why. Returns the ids reaped.
    """
    now = now or utcnow()
    cutoff = now - timedelta(seconds=timeout_s)
    with session() as db:
        query = select(FlowRunRecord.id, FlowRunRecord.worker_name).where(
            FlowRunRecord.state.in_(_ACTIVE), FlowRunRecord.heartbeat_at < cutoff)
        if pool is not None:
            query = query.where(FlowRunRecord.work_pool_name == pool)
        if deployment_ids:
            query = query.where(FlowRunRecord.deployment_id.in_(list(deployment_ids)))
        stale = list(db.execute(query.with_for_update(skip_locked=True)))
        if not stale:
            return []
        ids = [run_id for run_id, _ in stale]
        message = f"worker stopped heartbeating for more than {timeout_s:g}s"
        db.execute(update(FlowRunRecord)
                   .where(FlowRunRecord.id.in_(ids), FlowRunRecord.state.in_(_ACTIVE))
                   .values(state=State.CRASHED.value, state_message=message, ended_at=now,
                           updated=now)
                   .execution_options(synchronize_session=False))
        db.add_all(RunLogRecord(flow_run_id=run_id, level="ERROR", timestamp=now,
                                message=f"marked CRASHED: worker {worker!r} {message}")
                   for run_id, worker in stale)
        return ids
