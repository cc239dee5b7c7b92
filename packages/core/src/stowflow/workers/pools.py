"""Work pools: create, list, inspect, delete; and the job defaults a pool gives its runs.

A pool's ``base_job_template`` is ``{"env": {NAME: VALUE, ...}}``: environment defaults for
every run in the pool (``EXTRA_PIP_PACKAGES`` among them). A deployment's
``job_variables["env"]`` overrides them key by key (see :func:`job_env`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select

from stowflow.db import FlowRunRecord, WorkPoolRecord, WorkQueueRecord, session
from stowflow.errors import ConfigError, NotFoundError, RunError

POOL_TYPES = ("process",)
DEFAULT_QUEUE = "default"


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
                exist_ok: bool = False) -> WorkPoolRecord:
    """Create work pool ``name`` (with its ``default`` queue) and return it.

    ``env`` becomes the pool's default run environment. With ``exist_ok`` an existing pool
    is returned unchanged; otherwise an existing name is a ConfigError.
    """
    check_pool_name(name)
    if type not in POOL_TYPES:
        raise ConfigError(f"unknown work pool type {type!r}",
                          hint=f"supported types: {', '.join(POOL_TYPES)}")
    with session() as db:
        existing = db.scalars(select(WorkPoolRecord).where(WorkPoolRecord.name == name)).first()
        if existing is not None:
            if exist_ok:
                return existing
            raise ConfigError(f"work pool {name!r} already exists",
                              hint="inspect it with 'stowflow work-pool inspect'")
        pool = WorkPoolRecord(name=name, type=type, description=description,
                              base_job_template={"env": dict(env or {})},
                              concurrency_limit=concurrency_limit)
        db.add(pool)
        db.flush()
        db.add(WorkQueueRecord(work_pool_id=pool.id, name=DEFAULT_QUEUE))
    return pool


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
