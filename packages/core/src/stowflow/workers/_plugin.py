"""Core's built-in worker type ``process``, registered through the same hook as plugins'."""

from __future__ import annotations

from collections.abc import Callable

from stowflow.plugins import hookimpl
from stowflow.workers.types import WorkerType


def _process_launcher(pool: str):  # type: ignore[no-untyped-def]
    from stowflow.workers.runner import SubprocessLauncher

    return SubprocessLauncher(warm_for=(pool, None))


def _serve(deployment_ids: list[str], *, limit: int, poll_interval: float,
           run_once: bool) -> int:
    from stowflow.workers.worker import Worker, default_worker_name

    return Worker(deployment_ids=list(deployment_ids), name=f"serve-{default_worker_name()}",
                  limit=limit, poll_interval=poll_interval).start(run_once=run_once)


@hookimpl
def stowflow_register_worker_types(register: Callable[[WorkerType], None]) -> None:
    """Register ``process``: each run in a subprocess on the worker's machine."""
    register(WorkerType(name="process",
                        description="each run in a subprocess on the worker's machine",
                        make_launcher=_process_launcher, serve=_serve))
