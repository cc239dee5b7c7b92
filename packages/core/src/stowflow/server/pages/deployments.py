"""``/deployments``: the list, one deployment (source, pull steps, pool, tags, schedules,
versions, last runs and their code versions), its Run form, generated from the flow's
parameter schema and validated by :func:`stowflow.runs.create_flow_run` like ``deployment
run``, pausing and resuming it or one of its schedules, and deleting it (after a
confirmation page). Schedules go through :mod:`stowflow.schedules`, as the CLI's do."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import func, select
from sqlalchemy.orm import load_only
from starlette.responses import RedirectResponse, Response

from stowflow.db import DeploymentRecord, DeploymentVersionRecord, FlowRunRecord, session
from stowflow.deployments.records import masked_settings
from stowflow.errors import DeploymentPausedError, NotFoundError
from stowflow.redact import redact_data
from stowflow.runs import (
    ParameterError,
    create_flow_run,
    find_deployment,
    list_flow_runs,
    masked_parameters,
    refuse_if_paused,
)
from stowflow.schedules import (
    delete_deployment,
    get_schedule,
    list_schedules,
    schedule_view,
    set_deployment_paused,
    set_schedule_active,
    skipped_counts,
    spec_of,
)
from stowflow.server import forms
from stowflow.server.params import Page
from stowflow.server.security import require_write
from stowflow.server.templating import render

router = APIRouter(prefix="/deployments", include_in_schema=False)


def deployment_source(pull_steps: list[Any]) -> str:
    """Return where a deployment's code comes from, as its first pull step names it (a URL,
    a block or a folder; placeholders as written, never a resolved credential)."""
    for step in pull_steps or []:
        if not isinstance(step, dict) or not step:
            continue
        name, args = next(iter(step.items()))
        args = args if isinstance(args, dict) else {}
        for key in ("repository", "url", "bucket", "container", "block_document_name",
                    "directory"):
            if args.get(key):
                return str(redact_data(args[key]))
        return str(name).rsplit(".", 1)[-1]
    return "(none)"


#: Deployments per page of ``/deployments``: the page costs the same with 200 or 20,000.
PAGE_SIZE = 50


@router.get("")
def list_page(request: Request, page: Page = 1) -> Response:
    """Deployments by flow and name, 50 a page, with pool, version and number of runs."""
    shown = (DeploymentRecord.id, DeploymentRecord.flow_name, DeploymentRecord.name,
             DeploymentRecord.tags, DeploymentRecord.updated, DeploymentRecord.version_number,
             DeploymentRecord.work_pool_name, DeploymentRecord.pull_steps)
    with session() as db:  # not the parameter schemas and job variables of every row
        deployments = list(db.scalars(
            select(DeploymentRecord).options(load_only(*shown))
            .order_by(DeploymentRecord.flow_name, DeploymentRecord.name)
            .limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)))
        ids = [d.id for d in deployments[:PAGE_SIZE]]
        counts = dict(db.execute(select(FlowRunRecord.deployment_id, func.count())
                                 .where(FlowRunRecord.deployment_id.in_(ids))
                                 .group_by(FlowRunRecord.deployment_id)).all()) if ids else {}
    return render(request, "deployments/list.html", {
        "deployments": deployments[:PAGE_SIZE], "counts": counts, "page": page,
        "more": len(deployments) > PAGE_SIZE,
        "sources": {d.id: deployment_source(d.pull_steps) for d in deployments}})


@router.get("/{ref}")
def detail(request: Request, ref: str) -> Response:
    """One deployment: its source, pull steps, versions and latest runs."""
    dep = find_deployment(ref)
    with session() as db:
        versions = list(db.scalars(select(DeploymentVersionRecord).where(
            DeploymentVersionRecord.deployment_id == dep.id)
            .order_by(DeploymentVersionRecord.version_number.desc()).limit(20)))
    return render(request, "deployments/detail.html", {
        "dep": dep, "source": deployment_source(dep.pull_steps),
        "parameters": masked_parameters(dep.parameters, dep.parameter_schema),
        "pull_steps": masked_settings(dep.pull_steps), "versions": versions,
        "schedules": schedule_rows(dep.id, dep.parameter_schema),
        "runs": list_flow_runs(deployment_id=dep.id, limit=20)})


def schedule_rows(deployment_id: str,
                  schema: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Return the deployment's schedules as the page shows them: position, description
    (``cron '0 9 * * *' (UTC)``) and :func:`stowflow.schedules.schedule_view` (the
    parameters the flow's ``schema`` marks secret masked)."""
    schedules = list_schedules(deployment_id)
    skipped = skipped_counts([s.id for s in schedules])
    return [{"number": number, "describe": spec_of(record).describe(),
             "view": schedule_view(record, skipped.get(record.id, 0), schema=schema)}
            for number, record in enumerate(schedules, 1)]


@router.post("/{ref}/pause", dependencies=[Depends(require_write)])
def pause(ref: str) -> Response:
    """Pause the deployment: no scheduled runs (its runs not yet started are deleted)."""
    dep = set_deployment_paused(find_deployment(ref).id, True)
    return RedirectResponse(f"/deployments/{dep.id}", 303)


@router.post("/{ref}/resume", dependencies=[Depends(require_write)])
def resume(ref: str) -> Response:
    """Resume the deployment: its active schedules fire again from now."""
    dep = set_deployment_paused(find_deployment(ref).id, False)
    return RedirectResponse(f"/deployments/{dep.id}", 303)


@router.post("/{ref}/schedules/{schedule}/{action}", dependencies=[Depends(require_write)])
def schedule_action(ref: str, schedule: str, action: str) -> Response:
    """Pause (its runs not yet started are deleted) or resume one schedule."""
    if action not in ("pause", "resume"):
        raise NotFoundError(f"no schedule action {action!r}", hint="use pause or resume")
    dep = find_deployment(ref)
    set_schedule_active(get_schedule(dep.id, schedule).id, action == "resume")
    return RedirectResponse(f"/deployments/{dep.id}", 303)


@router.get("/{ref}/delete")
def confirm_delete(request: Request, ref: str) -> Response:
    """The confirmation page: what deleting the deployment removes and what it keeps."""
    dep = find_deployment(ref)
    with session() as db:
        runs = db.scalar(select(func.count()).select_from(FlowRunRecord)
                         .where(FlowRunRecord.deployment_id == dep.id)) or 0
    return render(request, "deployments/delete.html", {
        "dep": dep, "runs": runs, "schedules": len(list_schedules(dep.id))})


@router.post("/{ref}/delete", dependencies=[Depends(require_write)])
def delete(ref: str) -> Response:
    """Delete the deployment, its schedules and their runs not yet started (past runs are
    kept), as ``stowflow deployment delete`` does."""
    delete_deployment(find_deployment(ref).id)
    return RedirectResponse("/deployments", 303)


def _run_form(request: Request, dep: DeploymentRecord, values: dict[str, Any] | None,
              errors: dict[str, str] | None, status_code: int = 200) -> Response:
    schema = dep.parameter_schema or {}
    defaults = {**(dep.parameters or {}), **(values or {})}
    return render(request, "deployments/run.html", {
        "dep": dep, "fields": forms.parameter_form(schema, defaults, errors),
        "form_error": (errors or {}).get("")}, status_code=status_code)


@router.get("/{ref}/run")
def run_form(request: Request, ref: str) -> Response:
    """The parameter form of a new run (the deployment's defaults filled in)."""
    return _run_form(request, find_deployment(ref), None, None)


@router.post("/{ref}/run", dependencies=[Depends(require_write)])
async def start_run(request: Request, ref: str) -> Response:
    """Create the run; problems are shown beside their parameters."""
    dep = find_deployment(ref)
    form = dict(await request.form())
    force = form.pop("__force__", None) is not None  # a dunder, as the block form's __name__
    fields = forms.parameter_form(dep.parameter_schema or {})
    shown = forms.submitted_text(fields, form)
    try:
        refuse_if_paused(dep, force=force, how_to_force="tick 'run it anyway'")
        parameters = forms.parse_fields(fields, form)
        run = create_flow_run(dep, parameters)
    except DeploymentPausedError as exc:
        return _run_form(request, dep, shown, {"": f"{exc.message}: {exc.hint}"}, 409)
    except forms.FormError as exc:
        return _run_form(request, dep, shown, exc.errors, 422)
    except ParameterError as exc:
        errors: dict[str, str] = {}
        for path, message in exc.problems:
            key = path.split(".")[0]
            errors[key] = f"{errors[key]}; {message}" if key in errors else message
        return _run_form(request, dep, shown, errors, 422)
    return RedirectResponse(f"/flow-runs/{run.id}", 303)


def deployment_names() -> list[tuple[str, str]]:
    """Return ``(id, "flow/name")`` of every deployment, for filters."""
    with session() as db:
        rows = db.execute(select(DeploymentRecord.id, DeploymentRecord.flow_name,
                                 DeploymentRecord.name)
                          .order_by(DeploymentRecord.flow_name, DeploymentRecord.name))
        return [(dep_id, f"{flow}/{name}") for dep_id, flow, name in rows]
