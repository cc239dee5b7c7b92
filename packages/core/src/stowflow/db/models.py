"""SQLAlchemy models of everything stowflow stores.

One schema for blocks, variables, work pools and queues, deployments (with versions),
flow runs, their logs and their phase events. Ids are UUID strings and timestamps are
UTC, so the same models work on SQLite and PostgreSQL. Changes go through an Alembic
migration in ``migrations/versions``.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """Return the current time in UTC (timezone-aware)."""
    return datetime.now(UTC)


def new_id() -> str:
    """Return a new random id (a UUID4 as text)."""
    return str(uuid.uuid4())


# Byte translations that set a UUID's version (4) and variant (RFC 4122) bits.
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT_RFC = bytes((b & 0x3F) | 0x80 for b in range(256))


def new_ids(count: int) -> list[str]:
    """Return ``count`` new random ids, each what :func:`new_id` returns (a UUID4 as text),
    from one ``os.urandom`` call: the scheduler needs a thousand per tick, and building a
    ``uuid.UUID`` object for each cost it several milliseconds."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT_RFC)
    h = raw.hex()
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-{h[i + 12:i + 16]}-{h[i + 16:i + 20]}-"
            f"{h[i + 20:i + 32]}" for i in range(0, 32 * count, 32)]


class Base(DeclarativeBase):
    """Declarative base of all stowflow tables."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class TimestampMixin:
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class BlockTypeRecord(TimestampMixin, Base):
    """A block type recorded by ``stowflow block register``: where its class lives."""

    __tablename__ = "block_types"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    module: Mapped[str] = mapped_column(String(400))
    distribution: Mapped[str | None] = mapped_column(String(200))
    schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BlockDocumentRecord(TimestampMixin, Base):
    """A saved block: public fields as JSON, secret fields Fernet-encrypted."""

    __tablename__ = "block_documents"
    __table_args__ = (UniqueConstraint("block_type_slug", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(String(200))
    block_type_slug: Mapped[str] = mapped_column(String(200), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    encrypted_secrets: Mapped[str | None] = mapped_column(Text)
    is_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)


class VariableRecord(TimestampMixin, Base):
    """A named value usable as ``{{ stowflow.variables.NAME }}``."""

    __tablename__ = "variables"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    value: Mapped[Any] = mapped_column(JSON)


class WorkPoolRecord(TimestampMixin, Base):
    """A work pool: a type of worker and the job template its runs get."""

    __tablename__ = "work_pools"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(50), default="process")
    description: Mapped[str | None] = mapped_column(Text)
    base_job_template: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    concurrency_limit: Mapped[int | None] = mapped_column(Integer)


class WorkQueueRecord(TimestampMixin, Base):
    """A queue inside a work pool; runs are claimed by priority, then schedule."""

    __tablename__ = "work_queues"
    __table_args__ = (UniqueConstraint("work_pool_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    work_pool_id: Mapped[str] = mapped_column(ForeignKey("work_pools.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="default")
    priority: Mapped[int] = mapped_column(Integer, default=1)
    concurrency_limit: Mapped[int | None] = mapped_column(Integer)


class DeploymentRecord(TimestampMixin, Base):
    """A deployment: a flow, where its code lives (pull steps) and where it runs."""

    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("flow_name", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    flow_name: Mapped[str] = mapped_column(String(200))
    entrypoint: Mapped[str] = mapped_column(String(1000))
    work_pool_name: Mapped[str | None] = mapped_column(String(200), index=True)
    work_queue_name: Mapped[str | None] = mapped_column(String(200))
    job_variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parameter_schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enforce_parameter_schema: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Stored unresolved, with their {{ placeholders }}; resolved on the worker at run time.
    pull_steps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(String(200))
    image: Mapped[str | None] = mapped_column(String(500))
    concurrency_limit: Mapped[int | None] = mapped_column(Integer)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Increases by one each time the deployment is (re)deployed.
    version_number: Mapped[int] = mapped_column(Integer, default=1)


class DeploymentVersionRecord(Base):
    """A snapshot of a deployment as it was after one deploy."""

    __tablename__ = "deployment_versions"
    __table_args__ = (UniqueConstraint("deployment_id", "version_number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    version_number: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ScheduleRecord(TimestampMixin, Base):
    """One schedule of a deployment: exactly one of ``cron``, ``interval_s``, ``rrule``.

    ``next_fire_at`` is the earliest scheduled time no run has been created for yet (the
    scheduler's watermark; ``None`` when the schedule never fires again). On PostgreSQL no
    index holds it (migration 0006): the scheduler moves it on every tick, and that is a
    HOT update (no index entries; the migration sets fillfactor 50 to leave room for
    them) only while no index covers the column. SQLite, with no HOT update, keeps the
    due index.
    """

    __tablename__ = "deployment_schedules"
    __table_args__ = (
        Index("ix_deployment_schedules_due", "active", "next_fire_at").ddl_if(dialect="sqlite"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    cron: Mapped[str | None] = mapped_column(String(200))
    interval_s: Mapped[float | None] = mapped_column(Float)
    rrule: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(100), default="UTC")
    anchor_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    max_active_runs: Mapped[int | None] = mapped_column(Integer)
    next_fire_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ScheduleSkipRecord(Base):
    """Scheduled times a scheduler found already past (downtime) and did not run."""

    __tablename__ = "schedule_skips"
    __table_args__ = (UniqueConstraint("schedule_id", "first_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    schedule_id: Mapped[str] = mapped_column(
        ForeignKey("deployment_schedules.id", ondelete="CASCADE"), index=True)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: How many times were skipped; ``None`` when there were too many to count cheaply.
    count: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FlowRunRecord(TimestampMixin, Base):
    """One run of a deployment: SCHEDULED → PENDING → RUNNING → a final state."""

    __tablename__ = "flow_runs"
    __table_args__ = (
        Index("ix_flow_runs_claim", "work_pool_name", "state", "scheduled_at"),
        Index("ix_flow_runs_created", "created"),  # the UI lists runs newest first
        Index("ix_flow_runs_pool_created", "work_pool_name", "created", "id"),  # ... by pool
        Index("ix_flow_runs_state_created", "state", "created", "id"),  # ... by state
        # The scheduler's idempotency key: any number of schedulers insert the same
        # (deployment, schedule, time) and the database keeps one. Manual runs have no
        # schedule (NULL), and NULLs never collide.
        UniqueConstraint("deployment_id", "schedule_id", "scheduled_at",
                         name="uq_flow_runs_schedule_time"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    #: No index of its own: the unique key above starts with it (migration 0005).
    deployment_id: Mapped[str | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="SET NULL")
    )
    deployment_version: Mapped[int | None] = mapped_column(Integer)
    flow_name: Mapped[str] = mapped_column(String(200))
    work_pool_name: Mapped[str | None] = mapped_column(String(200))
    work_queue_name: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default="SCHEDULED")
    state_message: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The code version actually run: a git commit SHA or a manifest digest.
    code_version: Mapped[str | None] = mapped_column(String(200))
    worker_name: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    scheduled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The schedule that created this run (``None`` for manual runs and backfills of none).
    schedule_id: Mapped[str | None] = mapped_column(
        ForeignKey("deployment_schedules.id", ondelete="SET NULL"), index=True)
    #: The run this one retries (``flow-run retry``).
    retry_of: Mapped[str | None] = mapped_column(String(36))
    #: The code version the pull steps are pinned to (a retry of the exact code).
    pinned_code_version: Mapped[str | None] = mapped_column(String(200))


class RunLogRecord(Base):
    """One log line of a flow run (already redacted when written)."""

    __tablename__ = "run_logs"
    __table_args__ = (Index("ix_run_logs_run", "flow_run_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str] = mapped_column(ForeignKey("flow_runs.id", ondelete="CASCADE"))
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    level: Mapped[str] = mapped_column(String(10), default="INFO")
    message: Mapped[str] = mapped_column(Text)


class RunEventRecord(Base):
    """One phase of a flow run (resolve, auth, transfer, install, import, run) and its time."""

    __tablename__ = "run_events"
    __table_args__ = (Index("ix_run_events_run", "flow_run_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str] = mapped_column(ForeignKey("flow_runs.id", ondelete="CASCADE"))
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    phase: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="ok")
    duration_s: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FlowRunStateRecord(Base):
    """One state a flow run entered, and when (its state history)."""

    __tablename__ = "flow_run_states"
    __table_args__ = (Index("ix_flow_run_states_run", "flow_run_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str] = mapped_column(ForeignKey("flow_runs.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20))
    message: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkerRecord(Base):
    """A worker that polled a pool, and when it last did (its heartbeat)."""

    __tablename__ = "workers"
    __table_args__ = (UniqueConstraint("work_pool_name", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    work_pool_name: Mapped[str | None] = mapped_column(String(200), index=True)
    started: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
