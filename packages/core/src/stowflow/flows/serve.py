"""``flow.serve(name)``: deploy a flow without a work pool and run its runs from here.

The deployment's pull step is the flow's own storage when it came from ``from_source``,
or ``set_working_directory`` to where its file lives for local code. This process then
polls for runs of that deployment only and executes each in a subprocess, exactly as a
process worker does (fresh workspace, phases, logs, cancel) — through the ``process``
worker type's ``serve`` (``workers.types``), so this module, like the rest of ``flows``,
imports nothing of the workers above it. The first Ctrl-C stops taking runs and waits for
those in flight; a second cancels them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stowflow.flows.deploy import record_served_deployment

if TYPE_CHECKING:
    from stowflow.flows import Flow


def serve_flow(flow: Flow, name: str, *, parameters: dict[str, Any] | None = None,
               description: str | None = None, tags: list[str] | None = None,
               version: str | None = None, job_variables: dict[str, Any] | None = None,
               enforce_parameter_schema: bool = True, limit: int = 4,
               poll_interval: float = 2.0, run_once: bool = False,
               print_starting_message: bool = True) -> str:
    """Create or update deployment ``flow.name/name`` and run its runs until stopped.

    The deployment is :func:`stowflow.flows.deploy.record_served_deployment`'s; ``limit``
    caps concurrent runs; ``run_once`` takes what is scheduled now, runs it and returns
    (for scripts and tests). Returns the deployment id.
    """
    from stowflow.workers.types import worker_type

    deployment_id = record_served_deployment(
        flow, name, parameters=parameters, description=description, tags=tags,
        version=version, job_variables=job_variables,
        enforce_parameter_schema=enforce_parameter_schema)
    if print_starting_message:
        # Plain stdout: a library module does not reach into the CLI's console.
        print(f"Serving {flow.name}/{name}. Start a run with:\n"
              f"  stowflow deployment run '{flow.name}/{name}'\n"
              "Ctrl-C to stop.", flush=True)
    serve = worker_type("process").serve
    assert serve is not None  # core's process type always runs deployments in place
    serve([deployment_id], limit=limit, poll_interval=poll_interval, run_once=run_once)
    return deployment_id
