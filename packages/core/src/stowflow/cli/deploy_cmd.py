"""``stowflow deploy``: deploy from ``stowflow.yaml`` (asking interactively when there is none)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from stowflow.cli.output import console
from stowflow.cli.units import format_size as _size
from stowflow.errors import DeploymentError

if TYPE_CHECKING:
    from stowflow.deployments.deploy import DeployReport



def _prompt(question: str, choices: list[str] | None, default: str | None) -> str:
    if choices:
        question = f"{question} [{'/'.join(choices)}]"
    return str(typer.prompt(question, default=default if default is not None else "",
                            show_default=bool(default)))


def print_report(report: DeployReport) -> None:
    """Print what was (or would be) deployed."""
    if report.dry_run:
        console.print("[bold]Dry run:[/bold] nothing is built, pushed or written.")
        if report.missing_requirements:
            console.print("Would install: " + ", ".join(report.missing_requirements))
        preview = report.push_preview
        if preview is not None:
            console.print(f"Would push {len(preview.files)} files, {_size(preview.total_bytes)}:")
            for path, size in preview.files:
                console.print(f"  {path}  ({_size(size)})", markup=False)
        else:
            console.print("No push steps: no files would be uploaded.")
    table = Table("deployment", "flow", "entrypoint", "work pool", "id" if not report.dry_run else "pull steps")
    for plan in report.deployments:
        last = plan.id or "" if not report.dry_run else json.dumps(plan.pull_steps)
        table.add_row(plan.name, plan.flow_name, plan.entrypoint, plan.work_pool_name or "", last)
    console.print(table)
    verb = "Would write" if report.dry_run else "Deployed"
    console.print(f"{verb} {len(report.deployments)} deployment(s).")


def deploy_cmd(
    names: list[str] = typer.Argument(None, help="Deployments to deploy (default: the only one)."),
    all_: bool = typer.Option(False, "--all", help="Deploy every deployment in stowflow.yaml."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be pushed and written."),
    file: Path = typer.Option(Path("stowflow.yaml"), "--file", "-f", help="The stowflow.yaml to use."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Create a missing work pool or queue "
                             "without asking (for CI)."),
) -> None:
    """Run build and push steps once, then record the deployments."""
    from stowflow.deployments.deploy import deploy_project

    if not file.exists():
        prefect_file = file.with_name("prefect.yaml")
        if file.name == "stowflow.yaml" and prefect_file.is_file():
            raise DeploymentError(
                f"no {file} here, but there is a {prefect_file}",
                hint=f"translate it with 'stowflow migrate prefect {prefect_file}' (add --write "
                     "to write stowflow.yaml), then run 'stowflow deploy' again")
        if file.name == "stowflow.yaml" and sys.stdin.isatty() and sys.stdout.isatty():
            from stowflow.deployments.interactive import interactive_setup

            console.print("No stowflow.yaml here; let's write one.")
            file = interactive_setup(file.parent if str(file.parent) else Path.cwd(), _prompt)
            console.print(f"Wrote {file}")
        else:
            raise DeploymentError(f"no {file} here", hint="create one with 'stowflow init', "
                                  "or run 'stowflow deploy' in a terminal to be asked")
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    create = True if yes else (_confirm if interactive else False)
    print_report(deploy_project(file, names or [], all_=all_, dry_run=dry_run,
                                create_missing=create))


def _confirm(question: str) -> bool:
    answer = bool(typer.confirm(question, default=True))
    if answer:
        console.print("Creating it.")
    return answer


def register(app: typer.Typer) -> None:
    """Add ``stowflow deploy``."""
    app.command("deploy")(deploy_cmd)
