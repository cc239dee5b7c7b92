"""Recording deployments: one row per deployment plus a snapshot per (re)deploy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from stowflow.errors import DeploymentError

if TYPE_CHECKING:
    from stowflow.schedules import ScheduleSpec

#: The deployment fields a snapshot records, in the order ``deployment inspect`` shows them.
SNAPSHOT_FIELDS = (
    "name", "flow_name", "entrypoint", "work_pool_name", "work_queue_name", "job_variables",
    "parameters", "parameter_schema", "enforce_parameter_schema", "pull_steps", "tags",
    "description", "version", "image", "concurrency_limit", "paused",
)


def upsert_deployment(
    *,
    name: str,
    flow_name: str,
    entrypoint: str,
    work_pool_name: str | None = None,
    work_queue_name: str | None = None,
    job_variables: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    parameter_schema: dict[str, Any] | None = None,
    enforce_parameter_schema: bool = True,
    pull_steps: list[Any] | None = None,
    tags: list[str] | None = None,
    description: str | None = None,
    version: str | None = None,
    image: str | None = None,
    concurrency_limit: int | None = None,
    paused: bool | None = None,
    schedules: list[ScheduleSpec] | None = None,
) -> str:
    """Create or update deployment ``flow_name/name``; return its id.

    Each call records a :class:`~stowflow.db.DeploymentVersionRecord` snapshot; redeploying
    an existing deployment updates it in place (same id) and increases ``version_number``.
    ``pull_steps`` are stored exactly as given, placeholders unresolved. ``schedules``
    (when not ``None``) become the deployment's schedules: unchanged ones keep their future
    runs, changed or removed ones lose them (``schedules.store.replace_schedules``).
    ``paused`` ``None`` keeps a redeployed deployment's pause as it was (new: not paused).
    """
    from stowflow.db import DeploymentRecord, DeploymentVersionRecord, session

    if not name or not isinstance(name, str) or "/" in name:
        raise DeploymentError(f"invalid deployment name {name!r}: use a non-empty name without '/'")
    if not flow_name or not isinstance(flow_name, str) or "/" in flow_name:
        raise DeploymentError(f"invalid flow name {flow_name!r}: use a non-empty name without '/'")
    if concurrency_limit is not None and concurrency_limit < 1:
        raise DeploymentError(f"deployment '{name}': concurrency_limit must be at least 1")
    values: dict[str, Any] = {
        "name": name,
        "flow_name": flow_name,
        "entrypoint": entrypoint,
        "work_pool_name": work_pool_name,
        "work_queue_name": work_queue_name,
        "job_variables": dict(job_variables or {}),
        "parameters": dict(parameters or {}),
        "parameter_schema": dict(parameter_schema or {}),
        "enforce_parameter_schema": enforce_parameter_schema,
        "pull_steps": list(pull_steps or []),
        "tags": list(tags or []),
        "description": description,
        "version": version,
        "image": image,
        "concurrency_limit": concurrency_limit,
    }
    with session() as db:
        record = db.scalar(
            select(DeploymentRecord).where(
                DeploymentRecord.flow_name == flow_name, DeploymentRecord.name == name
            )
        )
        if record is None:
            record = DeploymentRecord(**values, paused=bool(paused), version_number=1)
            db.add(record)
            db.flush()
        else:
            for key, value in values.items():
                setattr(record, key, value)
            if paused is not None:
                record.paused = paused
            record.version_number = (record.version_number or 0) + 1
        from stowflow.schedules.store import replace_schedules

        replace_schedules(db, record.id, schedules)
        snapshot = {**values, "paused": record.paused}
        if schedules is not None:
            snapshot["schedules"] = [s.model_dump(mode="json") for s in schedules]
        db.add(
            DeploymentVersionRecord(
                deployment_id=record.id,
                version_number=record.version_number,
                snapshot={"version_number": record.version_number, **snapshot},
            )
        )
        return record.id


def work_pool_exists(name: str) -> bool:
    """Return whether a work pool called ``name`` exists."""
    from stowflow.db import WorkPoolRecord, session

    with session() as db:
        return db.scalar(select(WorkPoolRecord.id).where(WorkPoolRecord.name == name)) is not None
