"""``/flow-runs``: runs filtered by state, deployment and pool; one run with its state
history, code version, phase timeline chart, parameters and logs (paged, and followed
live by htmx polling while the run is going); cancel."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from stowflow.db import DeploymentRecord, RunEventRecord
from stowflow.runs import (
    LATE,
    State,
    deployment_or_none,
    find_deployment,
    get_flow_run,
    is_final,
    list_flow_runs,
    masked_parameters,
    read_events,
    read_log_page,
    read_logs,
    read_states,
    request_cancel,
)
from stowflow.server.params import LineId, Page
from stowflow.server.security import require_write
from stowflow.server.templating import render
from stowflow.workers.pools import list_pools

router = APIRouter(prefix="/flow-runs", include_in_schema=False)
PAGE_SIZE = 50
LOG_PAGE = 200


@dataclass
class Bar:
    """One bar of the phase chart, in percent of the chart's width."""

    phase: str
    status: str
    seconds: float
    x: float
    width: float


def phase_bars(events: list[RunEventRecord]) -> list[Bar]:
    """Place each phase on a common time axis: it ended at its event's timestamp and took
    ``duration_s``; the axis runs from the first start to the last end."""
    spans = []
    for event in events:
        duration = event.duration_s or 0.0
        end = event.timestamp.timestamp()
        spans.append((event, end - duration, end))
    if not spans:
        return []
    start = min(s for _, s, _ in spans)
    total = max(max(e for _, _, e in spans) - start, 1e-6)
    return [Bar(event.phase, event.status, event.duration_s or 0.0,
                x=100 * (begin - start) / total,
                width=max(100 * (end - begin) / total, 0.4))
            for event, begin, end in spans]


@router.get("")
def list_page(request: Request, state: str = "", deployment: str = "", work_pool: str = "",
              page: Page = 1) -> Response:
    """The newest runs, filtered (``deployment``: an id, ``flow/name`` or a unique name,
    as in the API and ``flow-run ls -d``; an unknown one is a 404, not an empty list)."""
    if deployment:
        deployment = find_deployment(deployment).id
    runs = list_flow_runs(deployment_id=deployment or None, state=state or None,
                          work_pool_name=work_pool or None, limit=PAGE_SIZE + 1,
                          offset=(page - 1) * PAGE_SIZE)
    from stowflow.server.pages.deployments import deployment_names

    return render(request, "flow_runs/list.html", {
        "runs": runs[:PAGE_SIZE], "more": len(runs) > PAGE_SIZE, "page": page,
        "state": state, "deployment": deployment, "work_pool": work_pool,
        "states": [*State.__members__, LATE], "pools": [p.name for p in list_pools()],
        "deployments": deployment_names()})


def _log_context(run_id: str, before: int | None) -> dict[str, object]:
    lines, older = read_log_page(run_id, before_id=before, limit=LOG_PAGE)
    return {"lines": lines, "older": older,
            "first_id": lines[0].id if lines else None,
            "last_id": lines[-1].id if lines else 0,
            "paged": before is not None}


@router.get("/{run_id}")
def detail(request: Request, run_id: str, before: LineId | None = None) -> Response:
    """One run: state, history, phases, parameters, logs (the newest page, or the page
    before log line ``before``)."""
    run = get_flow_run(run_id)
    events = read_events(run.id)
    dep = deployment_or_none(run.deployment_id)
    return render(request, "flow_runs/detail.html", {
        "run": run, "deployment": _deployment_name(dep), "parameters": masked_parameters(
            run.parameters, dep.parameter_schema if dep is not None else None),
        "final": is_final(run.state), "states": read_states(run.id),
        "events": events, "bars": phase_bars(events), **_log_context(run.id, before)})


def _deployment_name(dep: DeploymentRecord | None) -> str | None:
    return f"{dep.flow_name}/{dep.name}" if dep is not None else None


@router.get("/{run_id}/logs")
def new_logs(request: Request, run_id: str, after: LineId = 0) -> Response:
    """The htmx poll: log lines after ``after`` and the run's state, as out-of-band swaps,
    and the next poller (none once the run is final and every line was sent)."""
    run = get_flow_run(run_id)
    lines = read_logs(run.id, after_id=after, limit=LOG_PAGE)
    final = is_final(run.state)
    events = read_events(run.id) if final or lines else []
    return render(request, "flow_runs/_poll.html", {
        "run": run, "lines": lines, "last_id": lines[-1].id if lines else after,
        "final": final and len(lines) < LOG_PAGE, "events": events,
        "bars": phase_bars(events)})


@router.post("/{run_id}/cancel", dependencies=[Depends(require_write)])
def cancel(request: Request, run_id: str) -> Response:
    """Cancel the run (at once if not started; otherwise its worker stops it)."""
    run = request_cancel(run_id)
    return RedirectResponse(f"/flow-runs/{run.id}", 303)
