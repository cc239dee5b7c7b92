"""Claiming runs atomically, heartbeating them, and reaping runs whose worker died.

One claim is one transaction: queue by queue in priority order, select the oldest due
SCHEDULED runs, mark them PENDING for this worker. On PostgreSQL the select is ``FOR UPDATE SKIP LOCKED`` — concurrent workers
skip rows another one is claiming instead of waiting or double-claiming. On SQLite every
transaction begins ``IMMEDIATE`` (see ``db/engine.py``), so claims are serialised by the
database lock. The ``UPDATE ... WHERE state = 'SCHEDULED'`` re-checks the state either way.

A claimed run that never started — still PENDING when its process exited, or when its
worker stopped heartbeating — is handed back to SCHEDULED by :func:`hand_back` (at most
:data:`MAX_START_ATTEMPTS` times, each one a failed ``start`` event with the reason), so a
database restart or a worker killed during hand-over loses no run. A RUNNING run whose
worker died is CRASHED: its flow code may have begun, and running it twice is not ours to
decide.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from stowflow.db import (
    DeploymentRecord,
    FlowRunRecord,
    FlowRunStateRecord,
    RunEventRecord,
    RunLogRecord,
    ScheduleRecord,
    WorkPoolRecord,
    WorkQueueRecord,
    session,
    utcnow,
)
from stowflow.redact import redact, redact_data
from stowflow.runs.states import State
from stowflow.workers.pools import DEFAULT_QUEUE

_ACTIVE = (State.PENDING.value, State.RUNNING.value)

#: How many times a run may fail to start (its process never recorded RUNNING) before it
#: is CRASHED instead of scheduled again.
MAX_START_ATTEMPTS = 3
#: The event phase of a failed start.
START_PHASE = "start"


def claim_runs(worker_name: str, limit: int, *, pool: str | None = None,
               deployment_ids: Collection[str] | None = None,
               queues: Collection[str] | None = None) -> list[FlowRunRecord]:
    """Claim up to ``limit`` due runs of ``pool`` (or of ``deployment_ids``) for ``worker_name``.

    A pool's queues are served by priority (1 first; ties by name), each queue's runs
    oldest ``scheduled_at`` first; ``queues`` restricts the claim to those queues (a run
    naming no queue is in ``default``). Without ``queues``, runs naming a queue the pool
    does not have come last. A paused pool yields nothing; a pool with a concurrency limit
    yields no more than its free slots, and so do a queue and a deployment with one and a
    schedule with ``max_active_runs``. Returns the claimed runs, now PENDING, owned by
    ``worker_name``, with a fresh heartbeat, in the order they were claimed.
    """
    if limit <= 0 or (pool is None and not deployment_ids):
        return []
    now = utcnow()
    with session() as db:
        base = select(FlowRunRecord.id, FlowRunRecord.deployment_id,
                      FlowRunRecord.schedule_id).where(
            FlowRunRecord.state == State.SCHEDULED.value, FlowRunRecord.scheduled_at <= now)
        if deployment_ids:
            base = base.where(FlowRunRecord.deployment_id.in_(list(deployment_ids)))
        if pool is None:
            ids = _take(db, base, limit, worker_name, now)
        else:
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
            ids = []
            base = base.where(FlowRunRecord.work_pool_name == pool)
            for queue, free in _queue_slots(db, record, queues):
                take = limit - len(ids) if free is None else min(limit - len(ids), free)
                if take > 0:
                    ids += _take(db, base.where(_queue_of_run == queue), take, worker_name, now)
            if not queues and len(ids) < limit:
                known = [q for q, _ in _queue_slots(db, record, None, lock=False)]
                ids += _take(db, base.where(_queue_of_run.not_in(known)), limit - len(ids),
                             worker_name, now)
        if not ids:
            return []
        claimed = db.scalars(select(FlowRunRecord).where(
            FlowRunRecord.id.in_(ids), FlowRunRecord.worker_name == worker_name,
            FlowRunRecord.state == State.PENDING.value))
        order = {run_id: index for index, run_id in enumerate(ids)}
        return sorted(claimed, key=lambda run: order[run.id])  # in claim (priority) order


#: The queue a run is in: the one it names, else the pool's default queue.
_queue_of_run = func.coalesce(FlowRunRecord.work_queue_name, DEFAULT_QUEUE)


def _queue_slots(db: Session, pool: WorkPoolRecord, only: Collection[str] | None,
                 *, lock: bool = True) -> list[tuple[str, int | None]]:
    """The pool's queues in claim order with their free slots (``None``: no limit).

    Limited queues' rows are locked first, so concurrent claimers count a queue's active
    runs one after the other and never both take its last slot.
    """
    query = (select(WorkQueueRecord.id, WorkQueueRecord.name, WorkQueueRecord.concurrency_limit)
             .where(WorkQueueRecord.work_pool_id == pool.id)
             .order_by(WorkQueueRecord.priority, WorkQueueRecord.name))
    if only:
        query = query.where(WorkQueueRecord.name.in_(list(only)))
    rows = list(db.execute(query))
    limited = sorted(qid for qid, _, cap in rows if cap is not None)
    if lock and limited:
        list(db.scalars(select(WorkQueueRecord.id).where(WorkQueueRecord.id.in_(limited))
                        .order_by(WorkQueueRecord.id).with_for_update()))
    slots: list[tuple[str, int | None]] = []
    for _, name, cap in rows:
        if cap is None or not lock:
            slots.append((name, None))
            continue
        busy = db.scalar(select(func.count()).select_from(FlowRunRecord).where(
            FlowRunRecord.work_pool_name == pool.name, _queue_of_run == name,
            FlowRunRecord.state.in_(_ACTIVE)))
        slots.append((name, max(cap - int(busy or 0), 0)))
    return slots


def _take(db: Session, query: Any, limit: int, worker_name: str,
          now: datetime) -> list[str]:
    """Lock up to ``limit`` runs of ``query`` (oldest first), keep those within their
    deployment's and schedule's limits and mark them PENDING for ``worker_name``.

    Full deployments and schedules are skipped up front so they do not hold back others'
    runs; when a pass still loses runs to a limit, the next pass skips the ones it filled.
    Marking runs at once (in the claim's transaction) lets later counts see them.
    """
    taken: list[str] = []
    while len(taken) < limit:
        scoped = query
        full = _full_deployments(db)
        if full:
            scoped = scoped.where(or_(FlowRunRecord.deployment_id.is_(None),
                                      FlowRunRecord.deployment_id.not_in(full)))
        full_schedules = _full_schedules(db)
        if full_schedules:
            scoped = scoped.where(or_(FlowRunRecord.schedule_id.is_(None),
                                      FlowRunRecord.schedule_id.not_in(full_schedules)))
        scoped = (scoped.order_by(FlowRunRecord.scheduled_at, FlowRunRecord.id)
                  .limit(limit - len(taken)).with_for_update(skip_locked=True))
        candidates = [(r, d, sch) for r, d, sch in db.execute(scoped)]
        ids = _within_deployment_limits(db, candidates)
        if ids:
            db.execute(update(FlowRunRecord)
                       .where(FlowRunRecord.id.in_(ids),
                              FlowRunRecord.state == State.SCHEDULED.value)
                       .values(state=State.PENDING.value, worker_name=worker_name,
                               heartbeat_at=now, updated=now)
                       .execution_options(synchronize_session=False))
            db.add_all(FlowRunStateRecord(flow_run_id=run_id, state=State.PENDING.value,
                                          message=f"claimed by {worker_name}", timestamp=now)
                       for run_id in ids)
            taken += ids
        if len(ids) == len(candidates):  # nothing was held back: no more to find
            break
    return taken


def _active_count(db: Session, deployment_id: str) -> int:
    return int(db.scalar(select(func.count()).select_from(FlowRunRecord).where(
        FlowRunRecord.deployment_id == deployment_id, FlowRunRecord.state.in_(_ACTIVE))) or 0)


def _full_deployments(db: Session) -> list[str]:
    """Deployments with a concurrency limit and no free slot right now."""
    active = (select(func.count()).select_from(FlowRunRecord)
              .where(FlowRunRecord.deployment_id == DeploymentRecord.id,
                     FlowRunRecord.state.in_(_ACTIVE))
              .correlate(DeploymentRecord).scalar_subquery())
    return list(db.scalars(select(DeploymentRecord.id).where(
        DeploymentRecord.concurrency_limit.is_not(None),
        DeploymentRecord.concurrency_limit <= active)))


def _full_schedules(db: Session) -> list[str]:
    """Schedules with ``max_active_runs`` and no free slot right now."""
    active = (select(func.count()).select_from(FlowRunRecord)
              .where(FlowRunRecord.schedule_id == ScheduleRecord.id,
                     FlowRunRecord.state.in_(_ACTIVE))
              .correlate(ScheduleRecord).scalar_subquery())
    return list(db.scalars(select(ScheduleRecord.id).where(
        ScheduleRecord.max_active_runs.is_not(None), ScheduleRecord.max_active_runs <= active)))


def _within_deployment_limits(db: Session,
                              candidates: list[tuple[str, str | None, str | None]]) -> list[str]:
    """Keep the candidate runs (in order) that fit their deployment's concurrency limit and
    their schedule's ``max_active_runs``.

    Each limited deployment's row (for a limited schedule: its deployment's row) is locked
    first, so concurrent claimers count its active runs one after the other and never both
    take its last slot. Schedule rows are not locked here: the scheduler holds them while it
    inserts runs, which wait for the deployment rows claims lock.
    """
    schedule_ids = sorted({sch for _, _, sch in candidates if sch})
    schedule_caps: dict[str, int] = {}
    if schedule_ids:
        schedule_caps = {sid: int(cap or 0) for sid, cap in db.execute(
            select(ScheduleRecord.id, ScheduleRecord.max_active_runs)
            .where(ScheduleRecord.id.in_(schedule_ids),
                   ScheduleRecord.max_active_runs.is_not(None)))}
    limited_by_schedule = {dep for _, dep, sch in candidates if sch in schedule_caps and dep}
    deployment_ids = sorted({dep for _, dep, _ in candidates if dep})
    caps: dict[str, int] = {}
    if deployment_ids:
        rows = db.execute(
            select(DeploymentRecord.id, DeploymentRecord.concurrency_limit)
            .where(DeploymentRecord.id.in_(deployment_ids),
                   or_(DeploymentRecord.concurrency_limit.is_not(None),
                       DeploymentRecord.id.in_(sorted(limited_by_schedule))))
            .order_by(DeploymentRecord.id).with_for_update())
        caps = {dep_id: int(cap) for dep_id, cap in rows if cap is not None}
    free = {dep_id: cap - _active_count(db, dep_id) for dep_id, cap in caps.items()}
    schedule_free = {sid: cap - int(db.scalar(select(func.count()).select_from(FlowRunRecord)
                                              .where(FlowRunRecord.schedule_id == sid,
                                                     FlowRunRecord.state.in_(_ACTIVE))) or 0)
                     for sid, cap in schedule_caps.items()}
    kept = []
    for run_id, dep, sch in candidates:
        if (dep in free and free[dep] <= 0) or (sch in schedule_free and schedule_free[sch] <= 0):
            continue
        if dep in free:
            free[dep] -= 1
        if sch in schedule_free:
            schedule_free[sch] -= 1
        kept.append(run_id)
    return kept


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


def hand_back(run_id: str, worker_name: str | None, reason: str, *,
              now: datetime | None = None) -> State | None:
    """Return a claimed run that never started (still PENDING) to SCHEDULED.

    ``worker_name`` must still own it (``None``: whoever does). Records a failed ``start``
    event (``reason``, the attempt number, the worker) and a log line. After
    :data:`MAX_START_ATTEMPTS` failed starts the run is CRASHED instead; a run whose
    cancellation was requested is CANCELLED. Returns the state the run is in now, or
    ``None`` when it was not PENDING for that worker (it started, or someone else moved it).
    """
    now = now or utcnow()
    reason = redact(reason)
    with session() as db:
        query = select(FlowRunRecord).where(FlowRunRecord.id == run_id,
                                            FlowRunRecord.state == State.PENDING.value)
        if worker_name is not None:
            query = query.where(FlowRunRecord.worker_name == worker_name)
        run = db.scalars(query.with_for_update()).first()
        if run is None:
            return None
        owner = run.worker_name
        attempt = 1 + int(db.scalar(select(func.count()).select_from(RunEventRecord).where(
            RunEventRecord.flow_run_id == run_id, RunEventRecord.phase == START_PHASE,
            RunEventRecord.status == "failed")) or 0)
        if run.cancel_requested:
            target, message = State.CANCELLED, "cancelled before it started"
        elif attempt >= MAX_START_ATTEMPTS:
            target = State.CRASHED
            message = f"the run failed to start {attempt} times; the last time: {reason}"
        else:
            target = State.SCHEDULED
            message = f"handed back after a failed start (attempt {attempt}): {reason}"
        values: dict[str, object] = {"state": target.value, "state_message": message[:4000],
                                     "updated": now}
        if target is State.SCHEDULED:
            values.update(worker_name=None, heartbeat_at=None)
        else:
            values["ended_at"] = now
        db.execute(update(FlowRunRecord).where(FlowRunRecord.id == run_id).values(**values)
                   .execution_options(synchronize_session=False))
        db.add(FlowRunStateRecord(flow_run_id=run_id, state=target.value,
                                  message=message[:4000], timestamp=now))
        db.add(RunEventRecord(flow_run_id=run_id, phase=START_PHASE, status="failed",
                              timestamp=now, details=redact_data(
                                  {"reason": reason, "attempt": attempt, "worker": owner,
                                   "then": target.value})))
        db.add(RunLogRecord(flow_run_id=run_id, level="WARNING", timestamp=now,
                            message=f"the run did not start: {reason}; now {target.value}"))
    return target


def reap_crashed_runs(timeout_s: float, *, pool: str | None = None,
                      deployment_ids: Collection[str] | None = None,
                      now: datetime | None = None,
                      exclude_worker: str | None = None) -> list[str]:
    """Settle every active run whose worker has not heartbeaten for ``timeout_s``.

    A RUNNING one is marked CRASHED with a log line saying why (its ids are returned); a
    PENDING one never started and is handed back (:func:`hand_back`). Limited to ``pool`` /
    ``deployment_ids`` when given; a worker passes its own name as ``exclude_worker`` (it
    knows its runs are alive).
    """
    now = now or utcnow()
    cutoff = now - timedelta(seconds=timeout_s)
    message = f"worker stopped heartbeating for more than {timeout_s:g}s"
    with session() as db:
        query = select(FlowRunRecord.id, FlowRunRecord.worker_name, FlowRunRecord.state).where(
            FlowRunRecord.state.in_(_ACTIVE), FlowRunRecord.heartbeat_at < cutoff)
        if pool is not None:
            query = query.where(FlowRunRecord.work_pool_name == pool)
        if deployment_ids:
            query = query.where(FlowRunRecord.deployment_id.in_(list(deployment_ids)))
        if exclude_worker is not None:
            query = query.where(FlowRunRecord.worker_name != exclude_worker)
        stale = list(db.execute(query.with_for_update(skip_locked=True)))
        running = [(run_id, worker) for run_id, worker, state in stale
                   if state == State.RUNNING.value]
        ids = [run_id for run_id, _ in running]
        if ids:
            db.execute(update(FlowRunRecord)
                       .where(FlowRunRecord.id.in_(ids),
                              FlowRunRecord.state == State.RUNNING.value)
                       .values(state=State.CRASHED.value, state_message=message, ended_at=now,
                               updated=now)
                       .execution_options(synchronize_session=False))
            db.add_all(RunLogRecord(flow_run_id=run_id, level="ERROR", timestamp=now,
                                    message=f"marked CRASHED: worker {worker!r} {message}")
                       for run_id, worker in running)
            db.add_all(FlowRunStateRecord(flow_run_id=run_id, state=State.CRASHED.value,
                                          message=message, timestamp=now) for run_id in ids)
    for run_id, worker, state in stale:
        if state == State.PENDING.value:
            hand_back(run_id, worker, f"worker {worker!r} {message} before the run started",
                      now=now)
    return ids
