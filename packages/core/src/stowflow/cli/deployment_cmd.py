"""``stowflow deployment``: list, inspect, run, pause, backfill and delete deployments, and
manage their schedules (``deployment schedule ls|add|pause|resume|delete``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import typer
from rich.table import Table

from stowflow.cli.output import console
from stowflow.errors import ConfigError

deployment_app = typer.Typer(help="List, inspect, run, pause, schedule and delete deployments.",
                             no_args_is_help=True)


@deployment_app.command("ls")
def ls_cmd() -> None:
    """List deployments."""
    from sqlalchemy import select

    from stowflow.db import DeploymentRecord, session

    table = Table("deployment", "pool", "entrypoint", "version", "updated")
    with session() as db:
        records = list(db.scalars(select(DeploymentRecord)
                                  .order_by(DeploymentRecord.flow_name, DeploymentRecord.name)))
    for dep in records:
        table.add_row(f"{dep.flow_name}/{dep.name}", dep.work_pool_name or "(served)",
                      dep.entrypoint, str(dep.version_number),
                      dep.updated.isoformat(timespec="seconds"))
    console.print(table)


@deployment_app.command("inspect")
def inspect_cmd(name: str = typer.Argument(..., help="FLOW/DEPLOYMENT, a unique name or id.")
                ) -> None:
    """Show a deployment; pull steps and job variables as stored (placeholders kept,
    literal credentials masked)."""
    from stowflow.deployments.records import deployment_view
    from stowflow.runs import find_deployment
    from stowflow.schedules import list_schedules, schedule_view, skipped_counts

    dep = find_deployment(name)
    view = deployment_view(dep)
    schedules = list_schedules(dep.id)
    skipped = skipped_counts([s.id for s in schedules])
    view["schedules"] = [schedule_view(s, skipped.get(s.id, 0), paused=dep.paused,
                                       schema=dep.parameter_schema) for s in schedules]
    console.print_json(json.dumps(view, default=str))


@deployment_app.command("run")
def run_cmd(
    name: str = typer.Argument(..., help="FLOW/DEPLOYMENT, a unique name or id."),
    param: list[str] = typer.Option([], "--param", "-p", help="name=value (repeatable); "
                                    "values are JSON when they parse as JSON."),
    watch: bool = typer.Option(False, "--watch", help="Follow the run's logs until it ends."),
    timeout: float | None = typer.Option(None, "--timeout",
                                         help="With --watch, stop watching after N seconds."),
    force: bool = typer.Option(False, "--force", help="Run it even if the deployment is paused."),
) -> None:
    """Start a run of a deployment; its parameters are validated when the schema is enforced.

    With STOWFLOW_API_URL set, the run is created through that server's API (which
    validates it the same way) instead of the database.
    """
    from stowflow.api_client import as_record, client_from_settings
    from stowflow.runs import refuse_if_paused
    from stowflow.runs.params import parse_param_pairs

    api = client_from_settings()
    dep: Any = as_record(api.get(f"deployments/{name}")) if api else None
    if dep is None:
        from stowflow.runs import find_deployment

        dep = find_deployment(name)
    refuse_if_paused(dep, force=force)
    parameters = parse_param_pairs(param, dep.parameter_schema)
    if api is not None:
        run: Any = as_record(api.post("flow-runs", {"deployment": dep.id,
                                                     "parameters": parameters,
                                                     "force": force}))
    else:
        from stowflow.runs import create_flow_run

        run = create_flow_run(dep, parameters)
    where = f"pool '{dep.work_pool_name}'" if dep.work_pool_name else "its serve process"
    console.print(f"Created flow run [bold]{run.name}[/bold] ({run.id}); waiting for {where}.")
    if not watch:
        console.print(f"Follow it with: stowflow flow-run logs {run.id} -f")
        return
    from stowflow.cli.flow_run_cmd import follow, print_phases, styled_state

    final: Any = follow(run.id, timeout=timeout, api=api)
    console.print(f"Flow run {final.name} is {styled_state(final.state)}"
                  + (f": {final.state_message}" if final.state_message else ""))
    phases = [as_record(p) for p in final.phases] if api is not None else None
    print_phases(final.id, phases)
    if final.state != "COMPLETED":
        raise typer.Exit(1)


@deployment_app.command("delete")
def delete_cmd(name: str = typer.Argument(..., help="FLOW/DEPLOYMENT, a unique name or id.")
               ) -> None:
    """Delete a deployment and its runs not yet started (the runs that started are kept)."""
    from stowflow.runs import find_deployment
    from stowflow.schedules import delete_deployment

    dep = find_deployment(name)
    delete_deployment(dep.id)
    console.print(f"Deleted deployment {dep.flow_name}/{dep.name}")


@deployment_app.command("pause")
def pause_cmd(name: str = typer.Argument(..., help="FLOW/DEPLOYMENT, a unique name or id.")
              ) -> None:
    """Pause a deployment: no scheduled runs (its runs not yet started are deleted)."""
    from stowflow.runs import find_deployment
    from stowflow.schedules import set_deployment_paused

    dep = set_deployment_paused(find_deployment(name).id, True)
    console.print(f"Paused deployment {dep.flow_name}/{dep.name}")


@deployment_app.command("resume")
def resume_cmd(name: str = typer.Argument(..., help="FLOW/DEPLOYMENT, a unique name or id.")
               ) -> None:
    """Resume a paused deployment: its schedules fire again from now."""
    from stowflow.runs import find_deployment
    from stowflow.schedules import set_deployment_paused

    dep = set_deployment_paused(find_deployment(name).id, False)
    console.print(f"Resumed deployment {dep.flow_name}/{dep.name}")


def _moment(value: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} expects an ISO date or time, got {value!r}",
                          hint="e.g. 2026-01-31 or 2026-01-31T09:00+01:00 (UTC when no offset)"
                          ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@deployment_app.command("backfill")
def backfill_cmd(
    name: str = typer.Argument(..., help="FLOW/DEPLOYMENT, a unique name or id."),
    from_: str = typer.Option(..., "--from", help="Start (ISO date/time; UTC without offset)."),
    to: str = typer.Option(..., "--to", help="End, inclusive."),
    force: bool = typer.Option(False, "--force", help="Backfill even if the deployment is "
                               "paused."),
) -> None:
    """Create the runs the deployment's active schedules had between --from and --to."""
    from stowflow.runs import find_deployment
    from stowflow.schedules import backfill

    dep = find_deployment(name)
    created, existing = backfill(dep.id, _moment(from_, "--from"), _moment(to, "--to"),
                                 force=force)
    console.print(f"Backfilled {dep.flow_name}/{dep.name}: created {created} run(s)"
                  + (f", {existing} already existed" if existing else ""))


schedule_app = typer.Typer(help="List, add, pause, resume and delete a deployment's schedules.",
                           no_args_is_help=True)
deployment_app.add_typer(schedule_app, name="schedule")


@schedule_app.command("ls")
def schedule_ls_cmd(name: str = typer.Argument(..., help="FLOW/DEPLOYMENT, a unique name or id."),
                    as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List a deployment's schedules (#, id, what, active, next run, skipped)."""
    from stowflow.runs import find_deployment
    from stowflow.schedules import list_schedules, schedule_view, skipped_counts, spec_of

    dep = find_deployment(name)
    schedules = list_schedules(dep.id)
    skipped = skipped_counts([s.id for s in schedules])
    views = [schedule_view(s, skipped.get(s.id, 0), paused=dep.paused,
                           schema=dep.parameter_schema) for s in schedules]
    if as_json:
        console.print_json(json.dumps(views, default=str))
        return
    table = Table("#", "id", "schedule", "active", "next run (UTC)", "parameters", "skipped")
    for number, (record, view) in enumerate(zip(schedules, views, strict=True), 1):
        spec = spec_of(record)
        next_run = view["next_run_at"]
        table.add_row(str(number), record.id[:8], spec.describe(),
                      "yes" if record.active else "no",
                      next_run.removesuffix("+00:00") if next_run else "-",
                      json.dumps(view["parameters"]) if view.get("parameters") else "-",
                      str(skipped.get(record.id, 0)))
    console.print(table)
    if dep.paused:
        console.print("The deployment is paused: no schedule creates runs.")


@schedule_app.command("add")
def schedule_add_cmd(
    name: str = typer.Argument(..., help="FLOW/DEPLOYMENT, a unique name or id."),
    cron: str | None = typer.Option(None, "--cron", help="A 5-field cron expression."),
    interval: float | None = typer.Option(None, "--interval", help="Seconds between runs."),
    rrule: str | None = typer.Option(None, "--rrule", help="An iCalendar RRULE."),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA timezone, e.g. Europe/Berlin."),
    anchor_date: str | None = typer.Option(None, "--anchor-date",
                                           help="Where an interval starts counting (ISO)."),
    param: list[str] = typer.Option([], "--param", "-p", help="name=value override (repeatable)."),
    max_active_runs: int | None = typer.Option(None, "--max-active-runs", min=1,
                                               help="Most runs of it in flight at once."),
    inactive: bool = typer.Option(False, "--paused", help="Add it paused."),
) -> None:
    """Add a schedule to a deployment."""
    from pydantic import ValidationError

    from stowflow.runs import find_deployment, parse_param_pairs
    from stowflow.schedules import ScheduleSpec, add_schedule
    from stowflow.schedules.model import invalid_parameters, missing_parameters

    dep = find_deployment(name)
    values: dict[str, object] = {"cron": cron, "interval": interval, "rrule": rrule,
                                 "timezone": timezone, "active": not inactive,
                                 "parameters": parse_param_pairs(param, dep.parameter_schema),
                                 "max_active_runs": max_active_runs}
    if anchor_date:
        values["anchor_date"] = _moment(anchor_date, "--anchor-date")
    try:
        spec = ScheduleSpec.model_validate(values)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "schedule"
        raise ConfigError(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None
    missing = missing_parameters(spec, dep.parameters, dep.parameter_schema)
    if missing:
        raise ConfigError(f"the flow requires {', '.join(repr(m) for m in missing)}, which "
                          "neither the deployment nor this schedule gives",
                          hint="pass --param NAME=VALUE")
    problems = invalid_parameters(spec, dep.parameter_schema) \
        if dep.enforce_parameter_schema else []
    if problems:
        raise ConfigError("--param: " + "; ".join(f"{field or '(parameters)'}: {message}"
                                                  for field, message in problems),
                          hint="the flow's parameters are: " + (", ".join(
                              (dep.parameter_schema or {}).get("properties") or {}) or "none"))
    record = add_schedule(dep.id, spec)
    console.print(f"Added schedule {record.id[:8]} ({spec.describe()}) to "
                  f"{dep.flow_name}/{dep.name}")


def _schedule_for(name: str, ref: str):  # type: ignore[no-untyped-def]
    from stowflow.runs import find_deployment
    from stowflow.schedules import get_schedule

    dep = find_deployment(name)
    return dep, get_schedule(dep.id, ref)


_SCHEDULE_REF = typer.Argument(..., help="Schedule id, id prefix or # in 'schedule ls'.")


@schedule_app.command("pause")
def schedule_pause_cmd(name: str = typer.Argument(..., help="FLOW/DEPLOYMENT."),
                       schedule: str = _SCHEDULE_REF) -> None:
    """Pause one schedule (its runs not yet started are deleted)."""
    from stowflow.schedules import set_schedule_active

    dep, record = _schedule_for(name, schedule)
    set_schedule_active(record.id, False)
    console.print(f"Paused schedule {record.id[:8]} of {dep.flow_name}/{dep.name}")


@schedule_app.command("resume")
def schedule_resume_cmd(name: str = typer.Argument(..., help="FLOW/DEPLOYMENT."),
                        schedule: str = _SCHEDULE_REF) -> None:
    """Resume a paused schedule; it fires again from now."""
    from stowflow.schedules import set_schedule_active

    dep, record = _schedule_for(name, schedule)
    set_schedule_active(record.id, True)
    console.print(f"Resumed schedule {record.id[:8]} of {dep.flow_name}/{dep.name}")


@schedule_app.command("delete")
def schedule_delete_cmd(name: str = typer.Argument(..., help="FLOW/DEPLOYMENT."),
                        schedule: str = _SCHEDULE_REF) -> None:
    """Delete a schedule and its runs not yet started (past runs are kept)."""
    from stowflow.schedules import delete_schedule

    dep, record = _schedule_for(name, schedule)
    delete_schedule(record.id)
    console.print(f"Deleted schedule {record.id[:8]} of {dep.flow_name}/{dep.name}")


def register(app: typer.Typer) -> None:
    """Add ``stowflow deployment``."""
    app.add_typer(deployment_app, name="deployment")
