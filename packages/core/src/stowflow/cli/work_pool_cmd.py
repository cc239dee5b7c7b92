"""``stowflow work-pool``: create, list, inspect and delete work pools, and their queues
(``work-pool queue create|ls|update|delete``)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from stowflow.cli.output import console
from stowflow.errors import ConfigError

work_pool_app = typer.Typer(help="Create, list, inspect and delete work pools and their queues.",
                            no_args_is_help=True)


def _parse_env(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--env expects NAME=VALUE, got {pair!r}",
                              hint="e.g. --env EXTRA_PIP_PACKAGES=stowflow-aws")
        env[key.strip()] = value
    return env


def _parse_job_variables(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE that is JSON (a number, list, mapping, true) is read as
    JSON, anything else is the string itself."""
    variables: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--job-variable expects KEY=VALUE, got {pair!r}",
                              hint="e.g. --job-variable mem_limit=512m or "
                                   "--job-variable 'volumes=[\"/data:/data\"]'")
        try:
            variables[key.strip()] = json.loads(value)
        except ValueError:
            variables[key.strip()] = value
    return variables


@work_pool_app.command("create")
def create_cmd(
    name: str = typer.Argument(..., help="Name of the new pool."),
    type_: str = typer.Option("process", "--type", help="Worker type: 'process', or one a plugin adds "
                                 "(e.g. 'docker' from stowflow-docker)."),
    env: list[str] = typer.Option([], "--env", help="NAME=VALUE default run environment "
                                  "(repeatable), e.g. EXTRA_PIP_PACKAGES=…"),
    job_variable: list[str] = typer.Option(
        [], "--job-variable", "-j", help="KEY=VALUE default of one of the type's job variables "
        "(repeatable; VALUE read as JSON when it is), e.g. image=team/flows:1 mem_limit=512m; "
        "a deployment's job_variables override it"),
    concurrency_limit: int | None = typer.Option(None, "--concurrency-limit", min=1,
                                                  help="Most runs of this pool at once."),
    description: str | None = typer.Option(None, "--description", help="Free text."),
) -> None:
    """Create a work pool (with its 'default' queue)."""
    from stowflow.workers import pools

    pool = pools.create_pool(name, type=type_, env=_parse_env(env), description=description,
                             concurrency_limit=concurrency_limit,
                             job_variables=_parse_job_variables(job_variable))
    console.print(f"Created work pool [bold]{pool.name}[/bold] ({pool.type}). Start a worker:\n"
                  f"  stowflow worker start --pool {pool.name}")


@work_pool_app.command("ls")
def ls_cmd() -> None:
    """List work pools with their runs in flight."""
    from stowflow.workers import pools

    table = Table("name", "type", "concurrency", "scheduled", "running", "paused")
    for pool in pools.list_pools():
        counts = pools.run_counts(pool.name)
        table.add_row(pool.name, pool.type, str(pool.concurrency_limit or "-"),
                      str(counts.get("SCHEDULED", 0)),
                      str(counts.get("PENDING", 0) + counts.get("RUNNING", 0)),
                      "yes" if pool.is_paused else "no")
    console.print(table)


@work_pool_app.command("inspect")
def inspect_cmd(name: str = typer.Argument(..., help="Pool name.")) -> None:
    """Show a pool: type, job defaults, queues and run counts."""
    from stowflow.workers import pools

    pool = pools.get_pool(name)
    view = {
        "id": pool.id, "name": pool.name, "type": pool.type, "description": pool.description,
        "base_job_template": pool.base_job_template, "paused": pool.is_paused,
        "concurrency_limit": pool.concurrency_limit,
        "queues": [{"name": q.name, "priority": q.priority,
                    "concurrency_limit": q.concurrency_limit} for q in pools.pool_queues(pool)],
        "runs": pools.run_counts(pool.name), "created": pool.created.isoformat(),
    }
    console.print_json(json.dumps(view, default=str))


@work_pool_app.command("delete")
def delete_cmd(name: str = typer.Argument(..., help="Pool name.")) -> None:
    """Delete a pool (refused while it has runs in flight)."""
    from stowflow.workers import pools

    pools.delete_pool(name)
    console.print(f"Deleted work pool {name}")


queue_app = typer.Typer(help="Create, list, change and delete a pool's work queues.",
                        no_args_is_help=True)
work_pool_app.add_typer(queue_app, name="queue")


@queue_app.command("create")
def queue_create_cmd(
    pool: str = typer.Argument(..., help="Pool name."),
    name: str = typer.Argument(..., help="Queue name."),
    priority: int = typer.Option(1, "--priority", help="1 is served first, then 2, ..."),
    concurrency_limit: int | None = typer.Option(None, "--concurrency-limit",
                                                  help="Most runs of this queue at once."),
) -> None:
    """Create a queue in a pool."""
    from stowflow.workers import pools

    queue = pools.create_queue(pool, name, priority=priority, concurrency_limit=concurrency_limit)
    console.print(f"Created queue [bold]{queue.name}[/bold] in pool {pool} (priority "
                  f"{queue.priority}). Start a worker for it:\n"
                  f"  stowflow worker start --pool {pool} --queue {queue.name}")


@queue_app.command("ls")
def queue_ls_cmd(pool: str = typer.Argument(..., help="Pool name.")) -> None:
    """List a pool's queues in the order they are served."""
    from stowflow.workers import pools

    counts = pools.queue_run_counts(pool)
    table = Table("queue", "priority", "concurrency", "scheduled", "running")
    for queue in pools.pool_queues(pools.get_pool(pool)):
        table.add_row(queue.name, str(queue.priority), str(queue.concurrency_limit or "-"),
                      str(counts.get((queue.name, "SCHEDULED"), 0)),
                      str(counts.get((queue.name, "PENDING"), 0)
                          + counts.get((queue.name, "RUNNING"), 0)))
    console.print(table)


@queue_app.command("update")
def queue_update_cmd(
    pool: str = typer.Argument(..., help="Pool name."),
    name: str = typer.Argument(..., help="Queue name."),
    priority: int | None = typer.Option(None, "--priority", help="New priority (1 first)."),
    concurrency_limit: int | None = typer.Option(None, "--concurrency-limit",
                                                  help="New limit."),
    no_limit: bool = typer.Option(False, "--no-limit", help="Remove the concurrency limit."),
) -> None:
    """Change a queue's priority or concurrency limit."""
    from stowflow.workers import pools

    queue = pools.update_queue(pool, name, priority=priority,
                               concurrency_limit=concurrency_limit, clear_limit=no_limit)
    console.print(f"Queue {queue.name} in pool {pool}: priority {queue.priority}, "
                  f"concurrency {queue.concurrency_limit or 'unlimited'}")


@queue_app.command("delete")
def queue_delete_cmd(pool: str = typer.Argument(..., help="Pool name."),
                     name: str = typer.Argument(..., help="Queue name.")) -> None:
    """Delete a queue (not 'default'; refused while it has runs waiting)."""
    from stowflow.workers import pools

    pools.delete_queue(pool, name)
    console.print(f"Deleted queue {name} from pool {pool}")


def register(app: typer.Typer) -> None:
    """Add ``stowflow work-pool``."""
    app.add_typer(work_pool_app, name="work-pool")
