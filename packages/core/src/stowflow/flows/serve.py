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

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stowflow.errors import FlowError
from stowflow.flows.deploy import LOCAL_PULL_STEP

if TYPE_CHECKING:
    from stowflow.flows import Flow


def local_source(flow: Flow) -> tuple[str, list[dict[str, Any]]]:
    """Return ``(entrypoint, pull_steps)`` for a flow defined in a local file.

    The root is the working directory when the file lies under it (so the flow's own
    imports resolve as they do when the user runs it), else the file's folder.
    """
    if flow.fn is None:
        raise FlowError(f"flow '{flow.name}' has neither a function nor a source")
    try:
        file = Path(inspect.getfile(flow.fn)).resolve()
    except TypeError as exc:
        raise FlowError(f"flow '{flow.name}': cannot tell which file defines it",
                        hint="define the flow in a .py file, or use from_source") from exc
    cwd = Path.cwd().resolve()
    root = cwd if file.is_relative_to(cwd) else file.parent
    entrypoint = f"{file.relative_to(root).as_posix()}:{flow.fn.__qualname__}"
    return entrypoint, [{LOCAL_PULL_STEP: {"directory": str(root)}}]


def serve_flow(flow: Flow, name: str, *, parameters: dict[str, Any] | None = None,
          description: str | None = None, tags: list[str] | None = None,
          version: str | None = None, job_variables: dict[str, Any] | None = None,
          enforce_parameter_schema: bool = True, limit: int = 4,
          poll_interval: float = 2.0, run_once: bool = False,
          print_starting_message: bool = True) -> str:
    """Create or update deployment ``flow.name/name`` and run its runs until stopped.

    ``limit`` caps concurrent runs; ``run_once`` takes what is scheduled now, runs it and
    returns (for scripts and tests). Returns the deployment id.
    """
    from stowflow.deployments.records import DeploymentSpec, upsert_deployment
    from stowflow.workers.types import worker_type

    if flow.storage is not None and flow.entrypoint:
        entrypoint, pull_steps = flow.entrypoint, [flow.storage.to_pull_step()]
    else:
        entrypoint, pull_steps = local_source(flow)
    if parameters:
        flow.validate_parameters(parameters, partial=True)
    deployment_id = upsert_deployment(DeploymentSpec(
        name=name, flow_name=flow.name, entrypoint=entrypoint, work_pool_name=None,
        job_variables=job_variables, parameters=parameters,
        parameter_schema=flow.parameter_schema,
        enforce_parameter_schema=enforce_parameter_schema, pull_steps=pull_steps, tags=tags,
        description=description if description is not None else flow.description,
        version=version if version is not None else flow.version))
    if print_starting_message:
        # Plain stdout: a library module does not reach into the CLI's console.
        print(f"Serving {flow.name}/{name}. Start a run with:\n"
              f"  stowflow deployment run '{flow.name}/{name}'\n"
              "Ctrl-C to stop.", flush=True)
    serve = worker_type("process").serve
    assert serve is not None  # core's process type always runs deployments in place
    serve([deployment_id], limit=limit, poll_interval=poll_interval, run_once=run_once)
    return deployment_id
