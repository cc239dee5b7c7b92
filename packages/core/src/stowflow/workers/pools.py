"""Work pools and their queues: create, list, inspect, delete; and the job defaults a pool
gives its runs. Queues are served by priority: 1 first (see ``workers/claim.py``).

A pool's ``base_job_template`` is ``{"env": {NAME: VALUE, ...}, ...}``: environment defaults
for every run in the pool (``EXTRA_PIP_PACKAGES`` among them), and defaults of the other job
variables its type uses (a docker pool's ``image``, ``mem_limit``, ``volumes``, ...). A
deployment's ``job_variables["env"]`` overrides the environment key by key (see
:func:`job_env`); its other job variables replace the pool's (see :func:`job_variables`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select

from stowflow.db import FlowRunRecord, WorkerRecord, WorkPoolRecord, WorkQueueRecord, session
from stowflow.errors import ConfigError, NotFoundError, RunError
from stowflow.workers.types import worker_type

DEFAULT_QUEUE = "default"

__all__ = ["DEFAULT_QUEUE", "PoolOverview", "check_pool_defaults", "check_pool_name",
           "create_pool", "delete_pool", "get_pool", "job_env", "job_variables", "list_pools",
           "pool_overview", "pool_queues", "run_counts", "worker_type"]


def check_pool_name(name: str) -> None:
    """Raise a ConfigError unless ``name`` can name a work pool (printable, 1-200 characters,
    no leading or trailing space)."""
    if (not name or len(name) > 200 or name != name.strip()
            or not name.isprintable()):
        raise ConfigError(
            f"invalid work pool name {name[:80]!r}",
            hint="use 1 to 200 printable characters, without leading or trailing spaces",
        )


def create_pool(name: str, *, type: str = "process", env: dict[str, str] | None = None,
                description: str | None = None, concurrency_limit: int | None = None,
                exist_ok: bool = False,
                job_variables: dict[str, Any] | None = None) -> WorkPoolRecord:
    """Create work pool ``name`` (with its ``default`` queue) and return it.

    ``env`` becomes the pool's default run environment, ``job_variables`` the defaults of
    the other job variables its type uses (checked by the type; deployments override them).
    With ``exist_ok`` an existing pool is returned unchanged; otherwise an existing name is
    a ConfigError.
    """
    check_pool_name(name)
    kind = worker_type(type)
    defaults = check_pool_defaults(kind, job_variables or {})
    with session() as db:
        existing = db.scalars(select(WorkPoolRecord).where(WorkPoolRecord.name == name)).first()
        if existing is not None:
            if exist_ok:
                return existing
            raise ConfigError(f"work pool {name!r} already exists",
                              hint="inspect it with 'stowflow work-pool inspect'")
        pool = WorkPoolRecord(name=name, type=type, description=description,
                              base_job_template={**defaults, "env": dict(env or {})},
                              concurrency_limit=concurrency_limit)
        db.add(pool)
        db.flush()
        db.add(WorkQueueRecord(work_pool_id=pool.id, name=DEFAULT_QUEUE))
    return pool


def check_pool_defaults(kind: Any, job_variables: dict[str, Any]) -> dict[str, Any]:
    """Return ``job_variables`` as a pool of worker type ``kind`` may hold them; a key the
    type does not use, ``env`` (given separately) or a value the type refuses is a
    ConfigError."""
    unknown = sorted(set(job_variables) - (kind.job_variables - {"env"}))
    if unknown:
        usable = sorted(kind.job_variables - {"env"})
        raise ConfigError(
            f"a {kind.name} pool has no job variable {', '.join(unknown)}",
            hint=(f"a {kind.name} pool's job variables: {', '.join(usable)}" if usable else
                  f"a {kind.name} pool has only the environment (--env NAME=VALUE)")
            + ("; set the environment with --env NAME=VALUE" if "env" in unknown else ""))
    if job_variables and kind.check_pool_defaults is not None:
        kind.check_pool_defaults(dict(job_variables))
    return dict(job_variables)


def job_variables(pool: WorkPoolRecord | None, own: dict[str, Any] | None) -> dict[str, Any]:
    """Return a run's job variables: the pool's defaults (``base_job_template``) with the
    deployment's ``own`` over them, ``env`` merged key by key (:func:`job_env`)."""
    base = dict((pool.base_job_template or {}) if pool is not None else {})
    merged = {**base, **(own or {})}
    merged["env"] = job_env(pool, own)
    return merged


def pool_exists(name: str) -> bool:
    """Return whether a work pool called ``name`` exists."""
    with session() as db:
        return db.scalar(select(WorkPoolRecord.id).where(WorkPoolRecord.name == name)) is not None


def get_pool(name: str) -> WorkPoolRecord:
    """Return work pool ``name``; NotFoundError (with a hint) if it does not exist."""
    with session() as db:
        pool = db.scalars(select(WorkPoolRecord).where(WorkPoolRecord.name == name)).first()
    if pool is None:
        raise NotFoundError(f"no work pool {name!r}",
                            hint=f"create it with 'stowflow work-pool create {name} --type process'")
    return pool


def list_pools() -> list[WorkPoolRecord]:
    """Return every work pool, by name."""
    with session() as db:
        return list(db.scalars(select(WorkPoolRecord).order_by(WorkPoolRecord.name)))


def pool_queues(pool: WorkPoolRecord) -> list[WorkQueueRecord]:
    """Return the pool's queues by priority."""
    with session() as db:
        return list(db.scalars(select(WorkQueueRecord)
                               .where(WorkQueueRecord.work_pool_id == pool.id)
                               .order_by(WorkQueueRecord.priority, WorkQueueRecord.name)))


def check_queue_settings(priority: int, concurrency_limit: int | None) -> None:
    """Raise a ConfigError unless ``priority`` >= 1 and ``concurrency_limit`` is None or >= 1."""
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 1:
        raise ConfigError(f"invalid queue priority {priority!r}",
                          hint="use a whole number from 1 (served first) upwards")
    if concurrency_limit is not None and concurrency_limit < 1:
        raise ConfigError(f"invalid queue concurrency limit {concurrency_limit!r}",
                          hint="use at least 1, or no limit")


def create_queue(pool_name: str, name: str, *, priority: int = 1,
                 concurrency_limit: int | None = None, exist_ok: bool = False) -> WorkQueueRecord:
    """Create queue ``name`` in pool ``pool_name`` and return it.

    Priority 1 is served first (then 2, ...); ``concurrency_limit`` caps the queue's runs
    in flight. An existing name is a ConfigError unless ``exist_ok``.
    """
    check_pool_name(name)
    check_queue_settings(priority, concurrency_limit)
    pool = get_pool(pool_name)
    with session() as db:
        existing = db.scalars(select(WorkQueueRecord).where(
            WorkQueueRecord.work_pool_id == pool.id, WorkQueueRecord.name == name)).first()
        if existing is not None:
            if exist_ok:
                return existing
            raise ConfigError(f"work pool {pool_name!r} already has a queue {name!r}",
                              hint=f"see it with 'stowflow work-pool queue ls {pool_name}'")
        queue = WorkQueueRecord(work_pool_id=pool.id, name=name, priority=priority,
                                concurrency_limit=concurrency_limit)
        db.add(queue)
    return queue


def get_queue(pool_name: str, name: str) -> WorkQueueRecord:
    """Return queue ``name`` of pool ``pool_name``; NotFoundError (with a hint) if missing."""
    pool = get_pool(pool_name)
    found = next((q for q in pool_queues(pool) if q.name == name), None)
    if found is None:
        raise NotFoundError(f"work pool {pool_name!r} has no queue {name!r}",
                            hint=f"create it with 'stowflow work-pool queue create {pool_name} "
                            f"{name}'")
    return found


def queue_exists(pool_name: str, name: str) -> bool:
    """Return whether pool ``pool_name`` exists and has queue ``name``."""
    try:
        get_queue(pool_name, name)
    except NotFoundError:
        return False
    return True


def update_queue(pool_name: str, name: str, *, priority: int | None = None,
                 concurrency_limit: int | None = None,
                 clear_limit: bool = False) -> WorkQueueRecord:
    """Change a queue's priority and/or concurrency limit (``clear_limit`` removes it)."""
    queue = get_queue(pool_name, name)
    check_queue_settings(priority if priority is not None else queue.priority, concurrency_limit)
    with session() as db:
        record = db.get(WorkQueueRecord, queue.id)
        assert record is not None
        if priority is not None:
            record.priority = priority
        if concurrency_limit is not None or clear_limit:
            record.concurrency_limit = None if clear_limit else concurrency_limit
    return record


def delete_queue(pool_name: str, name: str) -> None:
    """Delete a queue (not ``default``; refused while runs of it are waiting or running)."""
    queue = get_queue(pool_name, name)
    if name == DEFAULT_QUEUE:
        raise ConfigError("the default queue cannot be deleted",
                          hint="runs that name no queue are in it")
    with session() as db:
        waiting = db.scalar(select(func.count()).select_from(FlowRunRecord).where(
            FlowRunRecord.work_pool_name == pool_name, FlowRunRecord.work_queue_name == name,
            FlowRunRecord.state.in_(("SCHEDULED", "PENDING", "RUNNING"))))
        if waiting:
            raise RunError(f"queue {name!r} has {waiting} run(s) waiting or in progress",
                           hint="let them finish or cancel them first")
        db.execute(delete(WorkQueueRecord).where(WorkQueueRecord.id == queue.id))


def queue_run_counts(pool_name: str) -> dict[tuple[str, str], int]:
    """Return how many runs of the pool are in each (queue, state)."""
    with session() as db:
        queue = func.coalesce(FlowRunRecord.work_queue_name, DEFAULT_QUEUE)
        rows = db.execute(select(queue, FlowRunRecord.state, func.count())
                          .where(FlowRunRecord.work_pool_name == pool_name)
                          .group_by(queue, FlowRunRecord.state))
        return {(name, state): count for name, state, count in rows}


def run_counts(pool_name: str) -> dict[str, int]:
    """Return how many runs of the pool are in each state."""
    with session() as db:
        rows = db.execute(select(FlowRunRecord.state, func.count())
                          .where(FlowRunRecord.work_pool_name == pool_name)
                          .group_by(FlowRunRecord.state))
        return {state: count for state, count in rows}


def delete_pool(name: str) -> None:
    """Delete work pool ``name`` and its queues; refused while runs of it are in progress."""
    pool = get_pool(name)
    busy = sum(n for state, n in run_counts(name).items() if state in ("PENDING", "RUNNING"))
    if busy:
        raise RunError(f"work pool {name!r} has {busy} run(s) in progress",
                       hint="wait for them or cancel them with 'stowflow flow-run cancel'")
    with session() as db:
        db.execute(delete(WorkQueueRecord).where(WorkQueueRecord.work_pool_id == pool.id))
        db.execute(delete(WorkPoolRecord).where(WorkPoolRecord.id == pool.id))


def job_env(pool: WorkPoolRecord | None, job_variables: dict[str, Any] | None) -> dict[str, str]:
    """Return the environment a run gets: the pool's defaults overlaid with the deployment's
    ``job_variables["env"]``. Values are strings; ``None`` removes a pool default."""
    env: dict[str, Any] = dict(((pool.base_job_template or {}).get("env") or {}) if pool else {})
    env.update((job_variables or {}).get("env") or {})
    return {str(k): str(v) for k, v in env.items() if v is not None}


@dataclass
class PoolOverview:
    """One pool as ``/work-pools`` shows it: its queues by priority, its runs counted by
    state, and its workers (the most recently alive first)."""

    pool: WorkPoolRecord
    queues: list[WorkQueueRecord] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    workers: list[WorkerRecord] = field(default_factory=list)


def pool_overview() -> list[PoolOverview]:
    """Return every pool (by name) with its queues, run counts and workers — four queries
    in one transaction, whatever the number of pools (not four per pool)."""
    with session() as db:
        found = {pool.name: PoolOverview(pool) for pool in db.scalars(
            select(WorkPoolRecord).order_by(WorkPoolRecord.name))}
        by_id = {item.pool.id: item for item in found.values()}
        for queue in db.scalars(select(WorkQueueRecord).order_by(
                WorkQueueRecord.priority, WorkQueueRecord.name)):
            if queue.work_pool_id in by_id:
                by_id[queue.work_pool_id].queues.append(queue)
        for pool_name, state, count in db.execute(
                select(FlowRunRecord.work_pool_name, FlowRunRecord.state, func.count())
                .where(FlowRunRecord.work_pool_name.is_not(None))
                .group_by(FlowRunRecord.work_pool_name, FlowRunRecord.state)):
            if pool_name in found:
                found[pool_name].counts[state] = count
        for worker in db.scalars(select(WorkerRecord).order_by(WorkerRecord.heartbeat_at.desc())):
            if worker.work_pool_name in found:
                found[worker.work_pool_name].workers.append(worker)
    return list(found.values())
