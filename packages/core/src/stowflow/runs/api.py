"""The flow-run API: create runs from deployments, read them, move them between states.

Every function opens its own transaction (``stowflow.db.session``) and returns detached
records, so callers — the CLI, workers, the run subprocess, ``serve`` — share one way of
doing each thing. State changes are compare-and-set updates guarded by
:data:`stowflow.runs.states.TRANSITIONS`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from stowflow.db import (
    DeploymentRecord,
    DeploymentVersionRecord,
    FlowRunRecord,
    FlowRunStateRecord,
    new_id,
    session,
    utcnow,
)
from stowflow.errors import DeploymentPausedError, NotFoundError, RunError
from stowflow.redact import redact
from stowflow.runs.params import validate_parameters
from stowflow.runs.states import State, is_final, sources_of


class InvalidTransitionError(RunError):
    """A flow run is not in a state from which the requested state can be entered."""


def find_deployment(ref: str) -> DeploymentRecord:
    """Return the deployment ``ref`` names: an id, ``flow-name/deployment-name``, or a unique name.

    Raises NotFoundError when nothing matches, or when a bare name matches several flows.
    """
    with session() as db:
        if "/" in ref:
            flow_name, _, name = ref.partition("/")
            found = db.scalars(select(DeploymentRecord).where(
                DeploymentRecord.flow_name == flow_name, DeploymentRecord.name == name)).first()
        else:
            found = db.get(DeploymentRecord, ref)
            if found is None:
                matches = list(db.scalars(
                    select(DeploymentRecord).where(DeploymentRecord.name == ref)))
                if len(matches) > 1:
                    names = ", ".join(sorted(f"{d.flow_name}/{d.name}" for d in matches))
                    raise NotFoundError(f"deployment name {ref!r} is ambiguous: {names}",
                                        hint="use FLOW-NAME/DEPLOYMENT-NAME")
                found = matches[0] if matches else None
    if found is None:
        raise NotFoundError(f"no deployment {ref!r}",
                            hint="list deployments with 'stowflow deployment ls'")
    return found



def deployment_or_none(deployment_id: str | None) -> DeploymentRecord | None:
    """Return a run's deployment by id, or ``None`` when it has none or it was deleted."""
    if not deployment_id:
        return None
    try:
        return find_deployment(deployment_id)
    except NotFoundError:
        return None


def deployment_for_run(run: FlowRunRecord) -> dict[str, Any]:
    """Return the deployment as it was when ``run`` was created (its version snapshot).

    Falls back to the deployment's current row when no snapshot exists. Raises RunError
    when the deployment was deleted.
    """
    with session() as db:
        if run.deployment_id and run.deployment_version is not None:
            snapshot = db.scalars(select(DeploymentVersionRecord.snapshot).where(
                DeploymentVersionRecord.deployment_id == run.deployment_id,
                DeploymentVersionRecord.version_number == run.deployment_version)).first()
            if snapshot:
                return {"id": run.deployment_id, **snapshot}
        record = db.get(DeploymentRecord, run.deployment_id) if run.deployment_id else None
        if record is None:
            raise RunError(f"flow run {run.id}: its deployment no longer exists")
        return {column.key: getattr(record, column.key)
                for column in DeploymentRecord.__mapper__.column_attrs}


def refuse_if_paused(deployment: Any, *, force: bool, how_to_force: str = "pass --force") -> None:
    """Raise :class:`DeploymentPausedError` when ``deployment`` (a record, or the API's view
    of one) is paused and ``force`` is not set: the rule every way of starting a run by hand
    follows (``deployment run``, the Run form, ``POST /api/flow-runs``); ``how_to_force``
    says how the caller forces it."""
    if deployment.paused and not force:
        ref = f"{deployment.flow_name}/{deployment.name}"
        raise DeploymentPausedError(
            f"deployment {ref} is paused",
            hint=f"resume it ('stowflow deployment resume {ref}'), or {how_to_force} to run "
                 "it once anyway")


def create_flow_run(deployment: str | DeploymentRecord, parameters: dict[str, Any] | None = None,
                    *, name: str | None = None,
                    scheduled_at: datetime | None = None) -> FlowRunRecord:
    """Create a SCHEDULED run of ``deployment`` (a record or a reference for find_deployment).

    The run's parameters are the deployment's defaults overlaid with ``parameters``; when
    the deployment enforces its parameter schema they are validated first (FlowError).
    Returns the new run.
    """
    record = deployment if isinstance(deployment, DeploymentRecord) else find_deployment(deployment)
    merged = {**(record.parameters or {}), **(parameters or {})}
    if record.enforce_parameter_schema:
        validate_parameters(merged, record.parameter_schema or {},
                            where=f"deployment '{record.flow_name}/{record.name}'")
    run_id = new_id()
    run = FlowRunRecord(
        id=run_id,
        name=name or f"{record.name}-{run_id[:8]}",
        deployment_id=record.id,
        deployment_version=record.version_number,
        flow_name=record.flow_name,
        work_pool_name=record.work_pool_name,
        work_queue_name=record.work_queue_name,
        state=State.SCHEDULED.value,
        parameters=merged,
        scheduled_at=scheduled_at or utcnow(),
    )
    with session() as db:
        db.add(run)  # its first state is implied, not stored: see read_states
    return run


def get_flow_run(run_id: str) -> FlowRunRecord:
    """Return the run with ``run_id`` (a full id or a unique prefix); NotFoundError if none."""
    with session() as db:
        run = db.get(FlowRunRecord, run_id)
        if run is None and len(run_id) >= 4:
            matches = list(db.scalars(select(FlowRunRecord)
                                      .where(FlowRunRecord.id.startswith(run_id)).limit(2)))
            run = matches[0] if len(matches) == 1 else None
    if run is None:
        raise NotFoundError(f"no flow run {run_id!r}", hint="list runs with 'stowflow flow-run ls'")
    return run


#: A SCHEDULED run still unclaimed this long after its due time is shown as LATE. LATE is
#: derived when a run is shown (:func:`shown_state`), never stored: the run is SCHEDULED in
#: the database, and a worker taking it moves it on as usual.
LATE_AFTER = timedelta(seconds=30)
LATE = "LATE"


def is_late(run: FlowRunRecord, now: datetime | None = None,
            late_after: timedelta = LATE_AFTER) -> bool:
    """Return whether ``run`` is SCHEDULED and more than ``late_after`` past its due time."""
    if run.state != State.SCHEDULED.value or run.scheduled_at is None:
        return False
    due = run.scheduled_at if run.scheduled_at.tzinfo else run.scheduled_at.replace(tzinfo=UTC)
    return due < (now or utcnow()) - late_after


def shown_state(run: FlowRunRecord, now: datetime | None = None) -> str:
    """The state to show for ``run``: its stored state, or LATE (see :data:`LATE_AFTER`)."""
    return LATE if is_late(run, now) else run.state


def list_flow_runs(*, deployment_id: str | None = None, state: str | None = None,
                   work_pool_name: str | None = None, limit: int = 50,
                   offset: int = 0) -> list[FlowRunRecord]:
    """Return the newest runs first, optionally only of one deployment, in one state
    (``LATE``: the SCHEDULED runs more than :data:`LATE_AFTER` past their due time) or of
    one work pool; ``offset`` skips that many (for paging)."""
    query = (select(FlowRunRecord)
             .order_by(FlowRunRecord.created.desc(), FlowRunRecord.id.desc())
             .limit(limit).offset(offset))
    if deployment_id:
        query = query.where(FlowRunRecord.deployment_id == deployment_id)
    if work_pool_name:
        query = query.where(FlowRunRecord.work_pool_name == work_pool_name)
    if state and state.upper() == LATE:
        query = query.where(FlowRunRecord.state == State.SCHEDULED.value,
                            FlowRunRecord.scheduled_at < utcnow() - LATE_AFTER)
    elif state:
        if state.upper() not in State.__members__:
            raise RunError(f"unknown flow run state {state!r}",
                           hint=f"states: {', '.join([*State.__members__, LATE])}")
        query = query.where(FlowRunRecord.state == state.upper())
    with session() as db:
        return list(db.scalars(query))


def set_state(run_id: str, state: State, *, message: str | None = None,
              worker_name: str | None = None, **fields: Any) -> FlowRunRecord:
    """Move the run to ``state`` if the state machine allows it from where it is now.

    Applied as one ``UPDATE ... WHERE state IN (allowed sources)``: of two racing writers
    only one wins. ``worker_name`` (when given) must own the run — a worker cannot finish
    a run another worker holds. Sets ``started_at`` on RUNNING and ``ended_at`` on a final
    state; extra ``fields`` (e.g. ``code_version``) are written in the same update.
    Raises InvalidTransitionError when the run is elsewhere. Returns the updated run.
    """
    values: dict[str, Any] = {"state": state.value, "updated": utcnow(), **fields}
    if message is not None:
        values["state_message"] = redact(message)[:4000]
    if state is State.RUNNING:
        values["started_at"] = utcnow()
    if is_final(state):
        values["ended_at"] = utcnow()
    sources = [s.value for s in sources_of(state)]
    query = update(FlowRunRecord).where(FlowRunRecord.id == run_id,
                                        FlowRunRecord.state.in_(sources))
    if worker_name is not None:
        query = query.where(FlowRunRecord.worker_name == worker_name)
    with session() as db:
        result = db.execute(query.values(**values).execution_options(
            synchronize_session=False))
        changed = int(getattr(result, "rowcount", 0))  # a CursorResult for an UPDATE
        run = db.get(FlowRunRecord, run_id)
        if run is None:
            raise NotFoundError(f"no flow run {run_id!r}")
        if not changed:
            owner = f" (held by {run.worker_name})" if worker_name and run.worker_name else ""
            raise InvalidTransitionError(
                f"flow run {run_id} is {run.state}{owner}; it cannot become {state.value}")
        db.add(FlowRunStateRecord(flow_run_id=run_id, state=state.value,
                                  message=values.get("state_message"),
                                  timestamp=values["updated"]))
        db.refresh(run)
    return run


def read_states(run_id: str) -> list[FlowRunStateRecord]:
    """Return the states the run entered, oldest first (its state history).

    Every run begins SCHEDULED, at its ``created`` time, and that first state is implied by
    the run row rather than stored (the scheduler creates a thousand runs at a time; see
    ``schedules/_bulk.py``): ``flow_run_states`` holds each change after it, and the first
    entry returned is built from the run (a record not in the database, ``id`` ``None``).
    Runs written before this stored it as their first row; a stored history that starts
    with SCHEDULED is that one (a later SCHEDULED, a hand-back, always follows a PENDING),
    so it is not repeated. A run that does not exist has no history (``[]``).
    """
    with session() as db:
        created = db.scalar(select(FlowRunRecord.created).where(FlowRunRecord.id == run_id))
        stored = list(db.scalars(select(FlowRunStateRecord)
                                 .where(FlowRunStateRecord.flow_run_id == run_id)
                                 .order_by(FlowRunStateRecord.id)))
    if created is None or (stored and stored[0].state == State.SCHEDULED.value):
        return stored
    first = FlowRunStateRecord(flow_run_id=run_id, state=State.SCHEDULED.value,
                               message=None, timestamp=created)
    return [first, *stored]


def update_run(run_id: str, **fields: Any) -> None:
    """Write plain fields of a run (``code_version``, ``heartbeat_at``…); never its state."""
    if "state" in fields:
        raise ValueError("use set_state() to change a run's state")
    with session() as db:
        db.execute(update(FlowRunRecord).where(FlowRunRecord.id == run_id)
                   .values(**fields, updated=utcnow()).execution_options(synchronize_session=False))


def request_cancel(run_id: str) -> FlowRunRecord:
    """Cancel a run: a SCHEDULED run is CANCELLED at once; a claimed or running one is
    flagged and its worker stops it. A run already final is left alone (RunError).

    Returns the run as it is after the request.
    """
    run = get_flow_run(run_id)
    if is_final(run.state):
        raise RunError(f"flow run {run.id} already finished ({run.state})")
    if run.state == State.SCHEDULED.value:
        try:
            return set_state(run.id, State.CANCELLED, message="cancelled before it started")
        except InvalidTransitionError:
            pass  # claimed meanwhile: fall through and flag it for its worker
    update_run(run.id, cancel_requested=True)
    return get_flow_run(run.id)
