"""Schedules in the database: replace a deployment's set, list, add, pause, resume, delete.

Every change that stops a schedule from firing as before (a redeploy, a changed or deleted
schedule, a paused schedule or deployment) deletes the runs it had created ahead of time
that have not started (SCHEDULED, due in the future); a pause also deletes those already
due that no worker took yet (LATE), which would otherwise start as soon as a worker came
back. A schedule that starts firing again (resumed, new, redeployed) counts from now, so
time spent paused is not caught up.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from stowflow.db import (
    DeploymentRecord,
    FlowRunRecord,
    ScheduleRecord,
    ScheduleSkipRecord,
    session,
    utcnow,
)
from stowflow.errors import NotFoundError
from stowflow.schedules.expand import next_fire
from stowflow.schedules.model import ScheduleSpec, zone

_SPEC_COLUMNS = {"cron": "cron", "interval": "interval_s", "rrule": "rrule",
                 "timezone": "timezone", "anchor_date": "anchor_date", "active": "active",
                 "parameters": "parameters", "max_active_runs": "max_active_runs"}


def spec_of(record: ScheduleRecord | Any) -> ScheduleSpec:
    """Return the (already validated) spec stored in ``record``: a record, or a row with
    at least the columns that say when it fires (the others take their defaults)."""
    values = {field: getattr(record, column) for field, column in _SPEC_COLUMNS.items()
              if hasattr(record, column)}
    if values.get("anchor_date") is not None and values["anchor_date"].tzinfo is None:
        values["anchor_date"] = values["anchor_date"].replace(tzinfo=UTC)  # SQLite: naive UTC
    return ScheduleSpec.model_construct(**values)


def normalized(spec: ScheduleSpec) -> ScheduleSpec:
    """Return ``spec`` with its anchor in UTC (a naive anchor is read in its timezone), as
    it is stored: the database keeps instants, not wall times."""
    if spec.anchor_date is None:
        return spec
    anchor = spec.anchor_date
    if anchor.tzinfo is None:
        anchor = anchor.replace(tzinfo=zone(spec.timezone))
    return spec.model_copy(update={"anchor_date": anchor.astimezone(UTC)})


def _key(spec: ScheduleSpec) -> str:
    return normalized(spec).model_dump_json()


def _values(spec: ScheduleSpec, now: datetime) -> dict[str, Any]:
    spec = normalized(spec)
    values = {column: getattr(spec, field) for field, column in _SPEC_COLUMNS.items()}
    values["parameters"] = dict(spec.parameters)
    values["next_fire_at"] = next_fire(spec, now) if spec.active else None
    return values


def delete_future_runs(db: Session, schedule_ids: list[str], now: datetime, *,
                       late_too: bool = False) -> int:
    """Delete the not-started runs of ``schedule_ids`` due after ``now`` (``late_too``: due
    or not, a pause); return how many.

    The schedule rows are locked first, so a scheduler inserting runs for them either
    finished before (and its runs are deleted here) or waits and then fails on the deleted
    schedule; no run of the old schedule survives.
    """
    if not schedule_ids:
        return 0
    list(db.scalars(select(ScheduleRecord.id).where(ScheduleRecord.id.in_(schedule_ids))
                    .order_by(ScheduleRecord.id).with_for_update()))
    waiting = [FlowRunRecord.schedule_id.in_(schedule_ids), FlowRunRecord.state == "SCHEDULED"]
    if not late_too:
        waiting.append(FlowRunRecord.scheduled_at > now)
    result = db.execute(delete(FlowRunRecord).where(*waiting)
                        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def replace_schedules(db: Session, deployment_id: str, specs: list[ScheduleSpec] | None) -> None:
    """Make ``specs`` the deployment's schedules (``None``: keep the ones it has), inside the
    caller's transaction — the redeploy of a deployment.

    Runs created ahead of time for the old version are deleted (they would run the old
    code and parameters) and every schedule fires again from now: the scheduler recreates
    them for the new version. An unchanged schedule keeps its id (and its past runs); a
    changed or removed one is deleted.
    """
    now = utcnow()
    existing = list(db.scalars(select(ScheduleRecord)
                               .where(ScheduleRecord.deployment_id == deployment_id)
                               .order_by(ScheduleRecord.position)))
    delete_future_runs(db, [r.id for r in existing], now)
    if specs is None:
        specs = [spec_of(r) for r in existing]
    by_key: dict[str, list[ScheduleRecord]] = {}
    for record in existing:
        by_key.setdefault(_key(spec_of(record)), []).append(record)
    kept: list[ScheduleRecord] = []
    for position, spec in enumerate(specs):
        same = by_key.get(_key(spec))
        if same:
            record = same.pop(0)
            record.position = position
            record.next_fire_at = _values(spec, now)["next_fire_at"]
            kept.append(record)
        else:
            db.add(ScheduleRecord(deployment_id=deployment_id, position=position,
                                  **_values(spec, now)))
    gone = [r.id for r in existing if r not in kept]
    if gone:
        db.execute(delete(ScheduleRecord).where(ScheduleRecord.id.in_(gone)))


def list_schedules(deployment_id: str) -> list[ScheduleRecord]:
    """Return the deployment's schedules in their order."""
    with session() as db:
        return list(db.scalars(select(ScheduleRecord)
                               .where(ScheduleRecord.deployment_id == deployment_id)
                               .order_by(ScheduleRecord.position, ScheduleRecord.created)))


def skipped_counts(schedule_ids: list[str]) -> dict[str, int]:
    """Return how many scheduled times each schedule skipped (catch-up limit), by id."""
    if not schedule_ids:
        return {}
    with session() as db:
        rows = db.execute(select(ScheduleSkipRecord.schedule_id,
                                 func.coalesce(func.sum(ScheduleSkipRecord.count), 0))
                          .where(ScheduleSkipRecord.schedule_id.in_(schedule_ids))
                          .group_by(ScheduleSkipRecord.schedule_id))
        return {schedule_id: int(total or 0) for schedule_id, total in rows}


def schedule_view(record: ScheduleRecord, skipped: int = 0, *, paused: bool = False,
                  schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A schedule as ``deployment inspect``, ``schedule ls --json`` (and the web UI) show it:
    its id, its spec's fields that are set, ``next_run_at`` (the next time it fires from
    now; ``None`` when it is inactive, its deployment is ``paused`` or it never fires
    again), ``next_fire_at`` (the scheduler's watermark: the first time it has created no
    run for, up to a horizon ahead) and how many times it skipped. Its ``parameters`` that
    the flow's ``schema`` marks secret are masked (:func:`stowflow.runs.masked_parameters`)."""
    from stowflow.runs.params import masked_parameters

    next_at = record.next_fire_at
    if next_at is not None and next_at.tzinfo is None:
        next_at = next_at.replace(tzinfo=UTC)
    spec = spec_of(record)
    next_run = next_fire(spec, utcnow()) if record.active and not paused else None
    view = spec.model_dump(mode="json", exclude_none=True)
    if view.get("parameters"):
        view["parameters"] = masked_parameters(view["parameters"], schema)
    return {"id": record.id, **view,
            "next_run_at": next_run.isoformat() if next_run else None,
            "next_fire_at": next_at.isoformat() if next_at else None, "skipped": skipped}


def add_schedule(deployment_id: str, spec: ScheduleSpec) -> ScheduleRecord:
    """Add ``spec`` as the deployment's last schedule; return it."""
    with session() as db:
        position = db.scalar(select(func.count()).select_from(ScheduleRecord)
                             .where(ScheduleRecord.deployment_id == deployment_id)) or 0
        record = ScheduleRecord(deployment_id=deployment_id, position=int(position or 0),
                                **_values(spec, utcnow()))
        db.add(record)
    return record


def get_schedule(deployment_id: str, ref: str) -> ScheduleRecord:
    """Return the deployment's schedule ``ref``: its id, a unique id prefix (4+ characters)
    or its 1-based position in ``deployment schedule ls``."""
    schedules = list_schedules(deployment_id)
    if ref.isdigit() and 1 <= int(ref) <= len(schedules):
        return schedules[int(ref) - 1]
    found = [s for s in schedules if s.id == ref or (len(ref) >= 4 and s.id.startswith(ref))]
    if len(found) != 1:
        raise NotFoundError(f"no schedule {ref!r} on this deployment",
                            hint="list them with 'stowflow deployment schedule ls DEPLOYMENT'")
    return found[0]


def set_schedule_active(schedule_id: str, active: bool) -> ScheduleRecord:
    """Pause (``active=False``: its runs not yet started are deleted, late ones too) or
    resume a schedule."""
    now = utcnow()
    with session() as db:
        record = db.get(ScheduleRecord, schedule_id)
        if record is None:
            raise NotFoundError(f"no schedule {schedule_id!r}")
        if not active:
            delete_future_runs(db, [record.id], now, late_too=True)
        record.active = active
        record.next_fire_at = next_fire(spec_of(record), now) if active else None
    return record


def delete_schedule(schedule_id: str) -> None:
    """Delete a schedule and its future runs (its past runs are kept)."""
    with session() as db:
        delete_future_runs(db, [schedule_id], utcnow())
        db.execute(delete(ScheduleRecord).where(ScheduleRecord.id == schedule_id))


def delete_deployment(deployment_id: str) -> None:
    """Delete a deployment with its schedules and its runs that have not started, due or
    not, by hand or by a schedule (they would be claimed and fail: their deployment is
    gone); the runs that started are kept."""
    with session() as db:
        ids = list(db.scalars(select(ScheduleRecord.id)
                              .where(ScheduleRecord.deployment_id == deployment_id)))
        delete_future_runs(db, ids, utcnow())  # locks the schedules against a tick
        db.execute(delete(FlowRunRecord).where(
            FlowRunRecord.deployment_id == deployment_id, FlowRunRecord.state == "SCHEDULED")
            .execution_options(synchronize_session=False))
        db.execute(delete(DeploymentRecord).where(DeploymentRecord.id == deployment_id))


def set_deployment_paused(deployment_id: str, paused: bool) -> DeploymentRecord:
    """Pause a deployment (no scheduled runs; those its schedules created that have not
    started are deleted, late ones too) or resume it (its active schedules fire again from
    now). Runs asked for by hand (``deployment run --force``, retries) are left alone."""
    now = utcnow()
    with session() as db:
        record = db.get(DeploymentRecord, deployment_id)
        if record is None:
            raise NotFoundError(f"no deployment {deployment_id!r}")
        schedules = list(db.scalars(select(ScheduleRecord)
                                    .where(ScheduleRecord.deployment_id == deployment_id)))
        if paused:
            delete_future_runs(db, [s.id for s in schedules], now, late_too=True)
        else:
            for schedule in schedules:
                if schedule.active:
                    schedule.next_fire_at = next_fire(spec_of(schedule), now)
        record.paused = paused
    return record
