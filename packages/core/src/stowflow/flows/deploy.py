"""``Flow.deploy`` and ``Flow.serve``: turn a flow (with its source) into a recorded deployment."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stowflow.errors import DeploymentError, FlowError

LOCAL_PULL_STEP = "stowflow.deployments.steps.set_working_directory"

if TYPE_CHECKING:
    from stowflow.flows.core import Flow


def _image_entrypoint(flow: Flow) -> str:
    assert flow.fn is not None
    try:
        file = Path(inspect.getfile(flow.fn)).resolve()
    except TypeError as exc:
        raise DeploymentError(f"flow '{flow.name}': cannot tell which file defines it") from exc
    try:
        relative = file.relative_to(Path.cwd().resolve())
    except ValueError:
        relative = file
    return f"{relative.as_posix()}:{flow.fn.__qualname__}"


def check_work_pool(name: str) -> None:
    """Raise :class:`DeploymentError` unless work pool ``name`` exists."""
    from stowflow.deployments.records import work_pool_exists

    if not name or not isinstance(name, str):
        raise DeploymentError("a deployment needs a work pool name")
    if not work_pool_exists(name):
        raise DeploymentError(
            f"work pool '{name}' does not exist",
            hint=f"create it with: stowflow work-pool create {name} --type process",
        )


#: ``create`` for :func:`ensure_work_pool`: yes/no, or a function asked each question.
Confirm = bool | Callable[[str], bool]


def ensure_work_pool(pool: str, queue: str | None = None, *,
                     create: Confirm = False) -> list[str]:
    """Check that work pool ``pool`` (and its queue ``queue``) exist; return what was created.

    A missing pool or queue is created (a process pool; a queue of priority 1) when
    ``create`` is true or, given a function, when it answers yes to the question; otherwise
    it is a :class:`DeploymentError` saying how to create it. This is what ``stowflow
    deploy`` asks in a terminal and ``--yes`` / ``deploy(create_missing=True)`` answers.
    """
    from stowflow.workers.pools import create_pool, create_queue, pool_exists, queue_exists

    if not pool or not isinstance(pool, str):
        raise DeploymentError("a deployment needs a work pool name")

    def agreed(question: str) -> bool:
        return create(question) if callable(create) else bool(create)

    created = []
    if not pool_exists(pool):
        if not agreed(f"Work pool '{pool}' does not exist. Create it (type process)?"):
            raise DeploymentError(
                f"work pool '{pool}' does not exist",
                hint=f"create it with: stowflow work-pool create {pool} --type process "
                     "(or deploy with --yes, or deploy(create_missing=True), to create it)")
        create_pool(pool, exist_ok=True)
        created.append(f"work pool '{pool}'")
    if queue and not queue_exists(pool, queue):
        if not agreed(f"Work pool '{pool}' has no queue '{queue}'. Create it (priority 1)?"):
            raise DeploymentError(
                f"work pool '{pool}' has no queue '{queue}'",
                hint=f"create it with: stowflow work-pool queue create {pool} {queue} "
                     "(or deploy with --yes, or deploy(create_missing=True), to create it)")
        create_queue(pool, queue, exist_ok=True)
        created.append(f"queue '{queue}' in work pool '{pool}'")
    return created


def deploy_flow(
    flow: Flow,
    *,
    name: str,
    work_pool_name: str,
    image: Any = None,
    job_variables: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    description: str | None = None,
    tags: list[str] | None = None,
    version: str | None = None,
    enforce_parameter_schema: bool = True,
    build: bool = True,
    push: bool = True,
    work_queue_name: str | None = None,
    concurrency_limit: int | None = None,
    cron: str | None = None,
    interval: float | timedelta | None = None,
    rrule: str | None = None,
    timezone: str | None = None,
    schedules: list[Any] | None = None,
    paused: bool | None = None,
    create_missing: bool = False,
) -> str:
    """Record a deployment of ``flow``; return its id (see :meth:`Flow.deploy`).

    ``image`` (a name, or an image object of the pool type's plugin) is handed to the pool
    type's ``deploy_image``, which builds it (``build``), pushes it (``push``) or checks that
    it exists; the recorded image is what it returns (pinned by digest once pushed). Without
    a source the code is baked into the image. ``cron``/``interval``/``rrule`` (read in
    ``timezone``) and ``schedules`` (dicts or ScheduleSpec) replace the deployment's
    schedules; with none of them given its schedules stay as they are. Raises
    :class:`DeploymentError` for a flow with neither source nor image, a missing work pool,
    a pool that runs no images, job variables the pool does not use, invalid default
    parameters, an invalid schedule, or one whose runs would lack a required parameter or
    whose own parameters the flow's schema refuses. ``create_missing`` creates a missing
    work pool or queue instead of failing (for CI; ``stowflow deploy`` asks in a terminal).
    """
    from stowflow.deployments.records import (
        DeploymentSpec,
        check_job_variables,
        pool_worker_type,
        upsert_deployment,
    )

    if flow.storage is None and image is None:
        raise DeploymentError(
            f"flow '{flow.name}' has no source to deploy from and no image",
            hint="use flow.from_source(source=..., entrypoint=...).deploy(...) so workers "
            "know where to fetch the code, or pass image=",
        )
    if parameters:
        flow.validate_parameters(parameters, partial=True)
    specs = _schedules(flow, parameters, enforce=enforce_parameter_schema, cron=cron,
                       interval=interval, rrule=rrule, timezone=timezone, schedules=schedules)
    # After the checks of what was given: a refused deploy leaves no pool or queue behind.
    ensure_work_pool(work_pool_name, work_queue_name, create=create_missing)
    job_variables = dict(job_variables or {})
    code_directory = None
    if image is not None:
        kind = pool_worker_type(work_pool_name)
        if kind.deploy_image is None:
            raise DeploymentError(
                f"work pool '{work_pool_name}' is a {kind.name} pool: it cannot run an image",
                hint="deploy to a docker pool ('stowflow work-pool create NAME --type docker', "
                     "with stowflow-docker installed), or use from_source without image=")
        deployed = kind.deploy_image(image, build=build, push=push,
                                     baked=flow.storage is None)
        image, code_directory = deployed.reference, deployed.code_directory
        job_variables["image"] = image
    check_job_variables(work_pool_name, job_variables)
    if flow.storage is not None:
        assert flow.entrypoint is not None
        entrypoint = flow.entrypoint
        pull_steps = [flow.storage.to_pull_step()]
    else:
        entrypoint = _image_entrypoint(flow)
        pull_steps = ([{LOCAL_PULL_STEP: {"directory": code_directory}}]
                      if code_directory else [])
    return upsert_deployment(DeploymentSpec(
        name=name,
        flow_name=flow.name,
        entrypoint=entrypoint,
        work_pool_name=work_pool_name,
        work_queue_name=work_queue_name,
        job_variables=job_variables,
        parameters=parameters,
        parameter_schema=flow.parameter_schema,
        enforce_parameter_schema=enforce_parameter_schema,
        pull_steps=pull_steps,
        tags=tags,
        description=description if description is not None else flow.description,
        version=version if version is not None else flow.version,
        image=image,
        concurrency_limit=concurrency_limit,
        schedules=specs,
        paused=paused,
    ))


def _schedules(flow: Flow, parameters: dict[str, Any] | None, *, enforce: bool,
               **given: Any) -> list[Any] | None:
    from pydantic import ValidationError

    from stowflow.schedules.model import (
        invalid_parameters,
        missing_parameters,
        schedules_from_arguments,
    )

    try:
        specs = schedules_from_arguments(**given)
    except (ValidationError, ValueError) as exc:
        errors = exc.errors(include_url=False) if isinstance(exc, ValidationError) else []
        text = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'schedule'}: "
                         f"{e['msg'].removeprefix('Value error, ')}" for e in errors) or str(exc)
        raise DeploymentError(f"flow '{flow.name}': invalid schedule: {text}") from None
    for spec in specs or []:
        missing = missing_parameters(spec, parameters or {}, flow.parameter_schema)
        if missing:
            raise DeploymentError(
                f"flow '{flow.name}': schedule {spec.describe()} would run without the "
                f"required parameter(s) {', '.join(repr(m) for m in missing)}",
                hint="pass them in parameters= or in the schedule's 'parameters'")
        problems = invalid_parameters(spec, flow.parameter_schema) if enforce else []
        if problems:
            raise DeploymentError(
                f"flow '{flow.name}': schedule {spec.describe()} has invalid parameters: "
                + "; ".join(f"{field or '(parameters)'}: {message}"
                            for field, message in problems),
                hint="fix the schedule's 'parameters'")
    return specs


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


def record_served_deployment(flow: Flow, name: str, *,
                             parameters: dict[str, Any] | None = None,
                             description: str | None = None, tags: list[str] | None = None,
                             version: str | None = None,
                             job_variables: dict[str, Any] | None = None,
                             enforce_parameter_schema: bool = True) -> str:
    """Record the pool-less deployment ``flow.serve(name)`` runs; return its id.

    Its pull step is the flow's storage when it came from ``from_source``, else
    ``set_working_directory`` to the flow's local folder (:func:`local_source`).
    """
    from stowflow.deployments.records import DeploymentSpec, upsert_deployment

    if flow.storage is not None and flow.entrypoint:
        entrypoint, pull_steps = flow.entrypoint, [flow.storage.to_pull_step()]
    else:
        entrypoint, pull_steps = local_source(flow)
    if parameters:
        flow.validate_parameters(parameters, partial=True)
    return upsert_deployment(DeploymentSpec(
        name=name, flow_name=flow.name, entrypoint=entrypoint, work_pool_name=None,
        job_variables=job_variables, parameters=parameters,
        parameter_schema=flow.parameter_schema,
        enforce_parameter_schema=enforce_parameter_schema, pull_steps=pull_steps, tags=tags,
        description=description if description is not None else flow.description,
        version=version if version is not None else flow.version))
