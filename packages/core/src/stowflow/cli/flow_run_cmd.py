"""``stowflow flow-run``: list (LATE derived), inspect (with phase timings), follow logs,
retry, cancel."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from stowflow.cli.output import console

if TYPE_CHECKING:
    from stowflow.api_client import ApiClient
    from stowflow.db import FlowRunRecord


flow_run_app = typer.Typer(help="List, inspect, follow, retry and cancel flow runs.",
                           no_args_is_help=True)

_STATE_STYLE = {"COMPLETED": "green", "FAILED": "red", "CRASHED": "red", "CANCELLED": "yellow",
                "RUNNING": "cyan", "PENDING": "blue", "SCHEDULED": "white", "LATE": "magenta"}


def styled_state(state: str) -> str:
    """Return ``state`` with its colour markup."""
    return f"[{_STATE_STYLE.get(state, 'white')}]{state}[/]"


def _when(value: object) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"  # type: ignore[attr-defined]


def print_phases(run_id: str, events: list[Any] | None = None) -> None:
    """Print the run's phase events (read from the database unless given) as a table
    (phase, status, seconds, details)."""
    if events is None:
        from stowflow.runs import read_events

        events = read_events(run_id)
    table = Table("phase", "status", "seconds", "details")
    for event in events:
        details = ", ".join(f"{k}={v}" for k, v in (event.details or {}).items()
                            if v not in (None, [], ""))
        status = "[red]failed[/]" if event.status == "failed" else event.status
        seconds = f"{event.duration_s:.3f}" if event.duration_s is not None else "-"
        table.add_row(event.phase, status, seconds, escape(details))
    console.print(table)


def _log_lines(run_id: str, after_id: int, api: ApiClient | None) -> tuple[list[Any], str]:
    """Return the run's log lines after ``after_id`` and its state, from the API or the
    database."""
    if api is not None:
        from stowflow.api_client import as_record

        answer = api.get(f"flow-runs/{run_id}/logs", after=after_id)
        return [as_record(line) for line in answer["lines"]], answer["state"]
    from stowflow.runs import get_flow_run, read_logs

    return read_logs(run_id, after_id=after_id), get_flow_run(run_id).state


def print_logs(run_id: str, after_id: int = 0, api: ApiClient | None = None) -> int:
    """Print the run's log lines after ``after_id``; return the last id printed."""
    return _print_lines(_log_lines(run_id, after_id, api)[0], after_id)


def _print_lines(lines: list[Any], after_id: int) -> int:
    for line in lines:
        style = {"ERROR": "red", "WARNING": "yellow"}.get(line.level, "")
        text = escape(line.message)
        console.print(f"[dim]{line.timestamp:%H:%M:%S}[/] "
                      f"{f'[{style}]{line.level:<7}[/]' if style else f'{line.level:<7}'} {text}")
        after_id = line.id
    return after_id


def follow(run_id: str, *, poll: float = 0.5, timeout: float | None = None,
           api: ApiClient | None = None) -> FlowRunRecord | Any:
    """Print the run's logs as they arrive until it reaches a final state; return the run
    (a record, or the API's answer as an object when ``api`` is given)."""
    from stowflow.runs.states import is_final

    last = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        lines, state = _log_lines(run_id, last, api)
        last = _print_lines(lines, last)
        if is_final(state) or (deadline is not None and time.monotonic() > deadline):
            if is_final(state):
                last = print_logs(run_id, last, api)
            if api is not None:
                from stowflow.api_client import as_record

                return as_record(api.get(f"flow-runs/{run_id}"))
            from stowflow.runs import get_flow_run

            return get_flow_run(run_id)
        time.sleep(poll)


@flow_run_app.command("ls")
def ls_cmd(
    deployment: str | None = typer.Option(None, "--deployment", "-d",
                                          help="Only runs of this deployment."),
    state: str | None = typer.Option(None, "--state", help="Only runs in this state (LATE: "
                                     "scheduled runs not yet taken 30 s after their time)."),
    limit: int = typer.Option(20, "--limit", min=1, help="How many runs."),
) -> None:
    """List the newest flow runs (a SCHEDULED run 30 s past its time is shown LATE; from
    STOWFLOW_API_URL's server when it is set)."""
    from stowflow.api_client import as_record, client_from_settings
    from stowflow.runs import shown_state

    api = client_from_settings()
    if api is not None:
        runs = [as_record(r) for r in api.get("flow-runs", deployment=deployment,
                                               state=state, limit=limit)]
    else:
        from stowflow.runs import find_deployment, list_flow_runs

        deployment_id = find_deployment(deployment).id if deployment else None
        runs = list_flow_runs(deployment_id=deployment_id, state=state, limit=limit)
    table = Table()
    table.add_column("id", no_wrap=True)  # users copy it; never cut it
    table.add_column("state", no_wrap=True)
    for title in ("name", "flow", "pool", "scheduled", "created", "code version"):
        table.add_column(title, overflow="fold")
    for run in runs:
        table.add_row(run.id, styled_state(shown_state(run)), run.name, run.flow_name,
                      run.work_pool_name or "-", _when(run.scheduled_at), _when(run.created),
                      run.code_version or "-")
    console.print(table)


@flow_run_app.command("inspect")
def inspect_cmd(run_id: str = typer.Argument(..., help="Run id (or a unique prefix).")) -> None:
    """Show a run: state, parameters (secret ones masked), code version, worker, and each
    phase's timing."""
    from stowflow.runs import deployment_or_none, get_flow_run, is_late, masked_parameters

    run = get_flow_run(run_id)
    dep = deployment_or_none(run.deployment_id)  # deleted: nothing says what is secret
    schema = dep.parameter_schema if dep is not None else None
    view = {
        "id": run.id, "name": run.name, "flow": run.flow_name, "state": run.state,
        "state_message": run.state_message, "deployment_id": run.deployment_id,
        "deployment_version": run.deployment_version, "work_pool": run.work_pool_name,
        "parameters": masked_parameters(run.parameters, schema),
        "code_version": run.code_version,
        "worker": run.worker_name, "scheduled": _when(run.scheduled_at),
        "started": _when(run.started_at), "ended": _when(run.ended_at),
        "cancel_requested": run.cancel_requested, "late": is_late(run),
        "schedule_id": run.schedule_id, "retry_of": run.retry_of,
        "pinned_code_version": run.pinned_code_version,
    }
    console.print_json(json.dumps(view, default=str))
    print_phases(run.id)


@flow_run_app.command("logs")
def logs_cmd(
    run_id: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    follow_: bool = typer.Option(False, "--follow", "-f", help="Keep printing until it ends."),
) -> None:
    """Print a run's logs (secrets masked); from STOWFLOW_API_URL's server when it is set."""
    from stowflow.api_client import client_from_settings

    api = client_from_settings()
    if api is not None:
        full_id = api.get(f"flow-runs/{run_id}")["id"]
    else:
        from stowflow.runs import get_flow_run

        full_id = get_flow_run(run_id).id
    if follow_:
        follow(full_id, api=api)
    else:
        print_logs(full_id, api=api)


@flow_run_app.command("retry")
def retry_cmd(
    run_id: str = typer.Argument(..., help="Run id (or a unique prefix) of a finished run."),
    latest_code: bool = typer.Option(False, "--latest-code",
                                     help="Run the deployment's current code and settings "
                                     "instead of the exact code version the run ran."),
) -> None:
    """Rerun a finished run with its parameters, on the exact code version it ran."""
    from stowflow.runs.retry import retry_flow_run

    run = retry_flow_run(run_id, latest_code=latest_code)
    code = "the deployment's latest code" if latest_code else f"code {run.pinned_code_version}"
    console.print(f"Created flow run [bold]{run.name}[/bold] ({run.id}), a retry of "
                  f"{run.retry_of} on {code}.\nFollow it with: stowflow flow-run logs {run.id} -f")


@flow_run_app.command("cancel")
def cancel_cmd(run_id: str = typer.Argument(..., help="Run id (or a unique prefix).")) -> None:
    """Cancel a run: at once if not started, else its worker stops it."""
    from stowflow.runs import request_cancel

    run = request_cancel(run_id)
    if run.state == "CANCELLED":
        console.print(f"Cancelled flow run {run.id}")
    else:
        console.print(f"Cancellation requested for flow run {run.id} ({run.state}); "
                      "its worker will stop it")


def register(app: typer.Typer) -> None:
    """Add ``stowflow flow-run``."""
    app.add_typer(flow_run_app, name="flow-run")
