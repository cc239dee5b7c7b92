"""The JSON API under ``/api/`` (documented at ``/api/openapi.json``).

Each route calls the library function the CLI uses for the same thing (``stowflow.runs``,
``stowflow.workers.pools``, ``stowflow.variables``); the block routes are in
:mod:`stowflow.server.api_blocks`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import text

from stowflow.db import get_engine
from stowflow.server.params import LineId, Offset
from stowflow.server.security import require_write

router = APIRouter(prefix="/api")


@router.get("/health", tags=["server"])
def health() -> dict[str, Any]:
    """Whether the server is up and its database answers (the schema was checked to be at
    the newest migration before the server started listening)."""
    from stowflow import __version__

    engine = get_engine()
    # SQLAlchemy Core, not a session: the ORM is imported by the first request that uses it.
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__, "database": engine.dialect.name}


def _schemas(deployment_ids: set[str | None]) -> dict[str, Any]:
    """The parameter schemas of these deployments, by id (one query)."""
    from sqlalchemy import select

    from stowflow.db import DeploymentRecord, session

    wanted = [i for i in deployment_ids if i]
    if not wanted:
        return {}
    with session() as db:
        return dict(db.execute(select(DeploymentRecord.id, DeploymentRecord.parameter_schema)
                               .where(DeploymentRecord.id.in_(wanted))).all())


def _run_json(run: Any, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run as the API shows it; ``schema`` (its deployment's parameter schema, looked up
    when not given) says which parameters are secret and shown masked."""
    from stowflow.runs import is_late, masked_parameters

    if schema is None:
        schema = _schemas({run.deployment_id}).get(run.deployment_id or "")
    return {"id": run.id, "name": run.name, "flow_name": run.flow_name, "state": run.state,
            "state_message": run.state_message, "deployment_id": run.deployment_id,
            "deployment_version": run.deployment_version,
            "work_pool_name": run.work_pool_name,
            "parameters": masked_parameters(run.parameters, schema),
            "code_version": run.code_version, "worker_name": run.worker_name,
            "created": run.created, "scheduled_at": run.scheduled_at, "started_at": run.started_at, "ended_at": run.ended_at,
            "cancel_requested": run.cancel_requested, "late": is_late(run),
            "retry_of": run.retry_of, "pinned_code_version": run.pinned_code_version}


def _deployment_json(dep: Any) -> dict[str, Any]:
    from stowflow.deployments.records import deployment_view

    return deployment_view(dep)


@router.get("/deployments", tags=["deployments"])
def list_deployments() -> list[dict[str, Any]]:
    """Every deployment (pull steps and job variables as stored, placeholders kept, literal
    credentials masked)."""
    from sqlalchemy import select

    from stowflow.db import DeploymentRecord, session

    with session() as db:
        records = list(db.scalars(select(DeploymentRecord).order_by(
            DeploymentRecord.flow_name, DeploymentRecord.name)))
    return [_deployment_json(d) for d in records]


@router.get("/deployments/{ref:path}", tags=["deployments"])
def get_deployment(ref: str) -> dict[str, Any]:
    """One deployment by id, ``flow/name`` or unique name, with its schedules."""
    from stowflow.runs import find_deployment
    from stowflow.server.pages.deployments import schedule_rows

    dep = find_deployment(ref)
    return {**_deployment_json(dep),
            "schedules": [{**row["view"], "description": row["describe"]}
                          for row in schedule_rows(dep.id, dep.parameter_schema)]}


@router.delete("/deployments/{ref:path}", tags=["deployments"], status_code=204,
               dependencies=[Depends(require_write)])
def delete_deployment(ref: str) -> None:
    """Delete a deployment, its schedules and their runs not yet started (past runs are
    kept), as ``stowflow deployment delete`` does."""
    from stowflow.runs import find_deployment
    from stowflow.schedules import delete_deployment as delete

    delete(find_deployment(ref).id)


# Registered before ".../pause": a greedy {ref:path} would take "flow/name/schedules/N".
@router.post("/deployments/{ref:path}/schedules/{schedule}/pause", tags=["deployments"],
             dependencies=[Depends(require_write)])
def pause_schedule(ref: str, schedule: str) -> dict[str, Any]:
    """Pause one schedule (id, id prefix or 1-based position); its runs not yet started
    are deleted."""
    return _set_schedule(ref, schedule, active=False)


@router.post("/deployments/{ref:path}/schedules/{schedule}/resume", tags=["deployments"],
             dependencies=[Depends(require_write)])
def resume_schedule(ref: str, schedule: str) -> dict[str, Any]:
    """Resume a paused schedule; it fires again from now."""
    return _set_schedule(ref, schedule, active=True)


@router.post("/deployments/{ref:path}/pause", tags=["deployments"],
             dependencies=[Depends(require_write)])
def pause_deployment(ref: str) -> dict[str, Any]:
    """Pause a deployment: no scheduled runs (its runs not yet started are deleted)."""
    from stowflow.runs import find_deployment
    from stowflow.schedules import set_deployment_paused

    return _deployment_json(set_deployment_paused(find_deployment(ref).id, True))


@router.post("/deployments/{ref:path}/resume", tags=["deployments"],
             dependencies=[Depends(require_write)])
def resume_deployment(ref: str) -> dict[str, Any]:
    """Resume a paused deployment: its active schedules fire again from now."""
    from stowflow.runs import find_deployment
    from stowflow.schedules import set_deployment_paused

    return _deployment_json(set_deployment_paused(find_deployment(ref).id, False))


def _set_schedule(ref: str, schedule: str, *, active: bool) -> dict[str, Any]:
    from stowflow.runs import find_deployment
    from stowflow.schedules import get_schedule, schedule_view, set_schedule_active

    dep = find_deployment(ref)
    return schedule_view(set_schedule_active(get_schedule(dep.id, schedule).id, active),
                         paused=dep.paused, schema=dep.parameter_schema)


class RunRequest(BaseModel):
    """The body of ``POST /api/flow-runs``."""

    deployment: str = Field(description="The deployment: its id, flow/name or unique name.")
    parameters: dict[str, Any] = Field(default_factory=dict,
                                       description="Parameter values (JSON); the "
                                       "deployment's defaults fill the rest.")
    force: bool = Field(False, description="Start it even if the deployment is paused.")


@router.post("/flow-runs", tags=["flow runs"], status_code=201,
             dependencies=[Depends(require_write)])
def create_run(body: RunRequest) -> dict[str, Any]:
    """Start a run of a deployment, validated as ``stowflow deployment run`` does (a paused
    deployment is refused, 409, unless ``force``)."""
    from stowflow.runs import create_flow_run, find_deployment, refuse_if_paused

    dep = find_deployment(body.deployment)
    refuse_if_paused(dep, force=body.force, how_to_force='send "force": true')
    return _run_json(create_flow_run(dep, body.parameters), dep.parameter_schema or {})


@router.get("/flow-runs", tags=["flow runs"])
def list_runs(state: str | None = None, deployment: str | None = None,
              work_pool: str | None = None, limit: int = Query(50, ge=1, le=1000),
              offset: Offset = 0) -> list[dict[str, Any]]:
    """The newest runs, filtered by state, deployment (id, flow/name or name) and pool."""
    from stowflow.runs import find_deployment, list_flow_runs

    deployment_id = find_deployment(deployment).id if deployment else None
    runs = list_flow_runs(deployment_id=deployment_id, state=state, work_pool_name=work_pool,
                          limit=limit, offset=offset)
    schemas = _schemas({r.deployment_id for r in runs})
    return [_run_json(r, schemas.get(r.deployment_id or "") or {}) for r in runs]


@router.get("/flow-runs/{run_id}", tags=["flow runs"])
def get_run(run_id: str) -> dict[str, Any]:
    """One run with its state history and phase events."""
    from stowflow.runs import get_flow_run, read_events, read_states

    run = get_flow_run(run_id)
    return {**_run_json(run),
            "states": [{"state": s.state, "message": s.message, "timestamp": s.timestamp}
                       for s in read_states(run.id)],
            "phases": [{"phase": e.phase, "status": e.status, "duration_s": e.duration_s,
                        "timestamp": e.timestamp, "details": e.details}
                       for e in read_events(run.id)]}


@router.get("/flow-runs/{run_id}/logs", tags=["flow runs"])
def get_logs(run_id: str, after: LineId = 0,
             limit: int = Query(1000, ge=1, le=10_000)) -> dict[str, Any]:
    """Log lines after line id ``after`` (already redacted), and whether the run is final."""
    from stowflow.runs import get_flow_run, is_final, read_logs

    run = get_flow_run(run_id)
    lines = read_logs(run.id, after_id=after, limit=limit)
    return {"state": run.state, "final": is_final(run.state),
            "lines": [{"id": line.id, "timestamp": line.timestamp, "level": line.level,
                       "message": line.message} for line in lines]}


@router.post("/flow-runs/{run_id}/cancel", tags=["flow runs"],
             dependencies=[Depends(require_write)])
def cancel_run(run_id: str) -> dict[str, Any]:
    """Cancel a run: at once when not started, else its worker stops it."""
    from stowflow.runs import request_cancel

    return _run_json(request_cancel(run_id))


@router.get("/work-pools", tags=["work pools"])
def list_work_pools() -> list[dict[str, Any]]:
    """Every pool with its queues, run counts by state and workers."""
    from stowflow.workers.pools import pool_overview

    return [{"name": o.pool.name, "type": o.pool.type, "paused": o.pool.is_paused,
             "concurrency_limit": o.pool.concurrency_limit,
             "queues": [{"name": q.name, "priority": q.priority} for q in o.queues],
             "runs": o.counts,
             "workers": [{"name": w.name, "heartbeat_at": w.heartbeat_at}
                         for w in o.workers]} for o in pool_overview()]


@router.get("/variables", tags=["variables"])
def list_all_variables() -> dict[str, Any]:
    """Every variable by name."""
    from stowflow.variables import list_variables

    return list_variables()


class VariableBody(BaseModel):
    """The body of ``PUT /api/variables/{name}``."""

    value: Any = Field(description="Any JSON value.")


@router.put("/variables/{name}", tags=["variables"], dependencies=[Depends(require_write)])
def put_variable(name: str, body: VariableBody) -> dict[str, Any]:
    """Create or replace variable ``name``."""
    from stowflow.variables import set_variable

    set_variable(name, body.value, overwrite=True)
    return {"name": name, "value": body.value}
