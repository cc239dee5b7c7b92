"""``stowflow deployment``: list, inspect, run and delete deployments."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from stowflow.cli.output import console

deployment_app = typer.Typer(help="List, inspect, run and delete deployments.",
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
    """Show a deployment; pull steps are shown as stored (placeholders, no secrets)."""
    from stowflow.db import DeploymentRecord
    from stowflow.runs import find_deployment

    dep = find_deployment(name)
    view = {column.key: getattr(dep, column.key)
            for column in DeploymentRecord.__mapper__.column_attrs}
    console.print_json(json.dumps(view, default=str))


@deployment_app.command("run")
def run_cmd(
    name: str = typer.Argument(..., help="FLOW/DEPLOYMENT, a unique name or id."),
    param: list[str] = typer.Option([], "--param", "-p", help="name=value (repeatable); "
                                    "values are JSON when they parse as JSON."),
    watch: bool = typer.Option(False, "--watch", help="Follow the run's logs until it ends."),
    timeout: float | None = typer.Option(None, "--timeout",
                                         help="With --watch, stop watching after N seconds."),
) -> None:
    """Start a run of a deployment; its parameters are validated when the schema is enforced."""
    from stowflow.runs import create_flow_run, find_deployment, parse_param_pairs

    dep = find_deployment(name)
    run = create_flow_run(dep, parse_param_pairs(param, dep.parameter_schema))
    where = f"pool '{dep.work_pool_name}'" if dep.work_pool_name else "its serve process"
    console.print(f"Created flow run [bold]{run.name}[/bold] ({run.id}); waiting for {where}.")
    if not watch:
        console.print(f"Follow it with: stowflow flow-run logs {run.id} -f")
        return
    from stowflow.cli.flow_run_cmd import follow, print_phases, styled_state

    final = follow(run.id, timeout=timeout)
    console.print(f"Flow run {final.name} is {styled_state(final.state)}"
                  + (f": {final.state_message}" if final.state_message else ""))
    print_phases(final.id)
    if final.state != "COMPLETED":
        raise typer.Exit(1)


@deployment_app.command("delete")
def delete_cmd(name: str = typer.Argument(..., help="FLOW/DEPLOYMENT, a unique name or id.")
               ) -> None:
    """Delete a deployment (its past runs are kept)."""
    from sqlalchemy import delete

    from stowflow.db import DeploymentRecord, session
    from stowflow.runs import find_deployment

    dep = find_deployment(name)
    with session() as db:
        db.execute(delete(DeploymentRecord).where(DeploymentRecord.id == dep.id))
    console.print(f"Deleted deployment {dep.flow_name}/{dep.name}")


def register(app: typer.Typer) -> None:
    """Add ``stowflow deployment``."""
    app.add_typer(deployment_app, name="deployment")
