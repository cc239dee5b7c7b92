"""Reruns: ``flow-run retry`` on the exact code a run ran, or on the deployment's latest.

A retry copies the finished run's parameters and deployment version and pins it to the
code version the run recorded (``code_version``), for every place code lives:

- a git commit SHA (``git_clone``, a git ``pull_from_remote_storage``, a git provider's
  repository block): the step's ``commit_sha`` (or the block step's ``version``);
- an object-store manifest version (``pull_from_s3`` & co., ``pull_from_remote_storage``,
  an object-store block through ``pull_with_block``): the step's ``version``;
- an image id (``sha256:...``: a docker run whose code is baked into its image): the
  retry's container runs that image, not the tag as it points now.

Code in a local folder (``set_working_directory``, or no pull steps) has no versions: a run
of it records none, and its retry is refused with what to do instead (``--latest-code``).
So is a block whose ``get_directory`` takes no ``version``.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

from stowflow.db import FlowRunRecord, new_id, session, utcnow
from stowflow.errors import RunError, StepError
from stowflow.runs.api import deployment_for_run, find_deployment, get_flow_run
from stowflow.runs.states import State, is_final

#: The step arguments that pin a pull to one code version, in the order they are tried.
PIN_ARGUMENTS = ("commit_sha", "version")


def _accepts(step_path: str, argument: str) -> bool | None:
    """Whether the step function takes ``argument`` (``None``: it cannot be imported here)."""
    from stowflow.steps.engine import import_step

    try:
        function = import_step(step_path, label=step_path)
    except (StepError, ImportError):
        return None
    return argument in inspect.signature(function).parameters


def pin_pull_steps(steps: list[Any], code_version: str) -> list[Any]:
    """Return a copy of ``steps`` with the step that fetches the code pinned to
    ``code_version``; RunError when no step can be pinned.

    The last step taking ``commit_sha`` is pinned (git); failing that, the last one taking
    ``version`` (object stores). A step that cannot be imported here is judged by name:
    the worker that runs it has it.
    """
    from stowflow.steps.engine import parse_step

    pinned = copy.deepcopy(list(steps))
    for argument in PIN_ARGUMENTS:
        for index in range(len(pinned) - 1, -1, -1):
            path, _settings = parse_step(pinned[index], index)
            accepts = _accepts(path, argument)
            if accepts is None:
                accepts = (argument == "commit_sha") == ("git" in path.rsplit(".", 1)[-1])
            if accepts:
                key = next(iter(pinned[index]))
                pinned[index][key] = {**(pinned[index][key] or {}), argument: code_version}
                return pinned
    raise RunError(f"no pull step of this deployment can be pinned to code version "
                   f"{code_version!r}", hint="retry it on the current code with --latest-code")


#: How a code version that is a Docker image id starts (what docker runs record).
IMAGE_ID_PREFIX = "sha256:"


def is_image_id(code_version: str | None) -> bool:
    """Whether ``code_version`` is a Docker image id (a pin of the run's image)."""
    return bool(code_version) and str(code_version).startswith(IMAGE_ID_PREFIX)


def pull_steps_for(run: Any, steps: list[Any]) -> list[Any]:
    """The pull steps ``run`` executes: ``steps`` pinned to ``run.pinned_code_version`` (a
    retry), as they are otherwise or when the pin is an image id (the image is pinned)."""
    pin = getattr(run, "pinned_code_version", None)
    if not pin or is_image_id(pin):
        return list(steps)
    return pin_pull_steps(list(steps), pin)


def _unversioned(steps: list[Any]) -> str:
    """Say where code without versions lives (for the refusal of an exact retry)."""
    from stowflow.steps.engine import parse_step

    for index, step in enumerate(steps):
        path, settings = parse_step(step, index)
        if path.rsplit(".", 1)[-1] == "set_working_directory":
            return f"its code is in a local folder ({settings.get('directory')}), which has " \
                   "no versions"
    if not steps:
        return "its deployment has no pull steps (the code is wherever the worker runs)"
    return "its pull steps report no code version, or it failed before fetching code"


def _check_block_steps(steps: list[Any], code_version: str) -> None:
    """Refuse a pinned ``pull_with_block`` whose block type cannot fetch a given version
    (when the type is installed here; a worker without it fails the same way)."""
    from stowflow.steps.block_steps import takes_version
    from stowflow.steps.engine import parse_step

    for index, step in enumerate(steps):
        path, settings = parse_step(step, index)
        if path.rsplit(".", 1)[-1] != "pull_with_block" or "version" not in settings:
            continue
        from stowflow.blocks import get_block_class

        try:
            block_type = get_block_class(str(settings.get("block_type_slug")))
        except Exception:  # not installed here: the worker decides
            continue
        if not takes_version(block_type):
            raise RunError(f"the deployment's code is in block "
                           f"'{settings.get('block_type_slug')}/"
                           f"{settings.get('block_document_name')}' ({block_type.__name__}), "
                           f"which cannot fetch a given version, so code version "
                           f"{code_version!r} cannot be pulled again",
                           hint="retry it on the current code with --latest-code")


def retry_flow_run(run_id: str, *, latest_code: bool = False) -> FlowRunRecord:
    """Create a new run that reruns the finished run ``run_id``; return it.

    Same parameters, deployment version and pool; the pull steps are pinned to the code
    version the run recorded, unless ``latest_code`` (then: the deployment as it is now,
    its pull steps unpinned). The new run's ``retry_of`` is ``run_id``.
    """
    source = get_flow_run(run_id)
    if not is_final(source.state):
        raise RunError(f"flow run {source.id} is {source.state}; only a finished run can be "
                       "retried", hint="wait for it, or cancel it with 'stowflow flow-run cancel'")
    if source.deployment_id is None:
        raise RunError(f"flow run {source.id}: its deployment no longer exists")
    pin = None
    version: int | None
    if latest_code:
        deployment = find_deployment(source.deployment_id)
        version = deployment.version_number
        pool, queue = deployment.work_pool_name, deployment.work_queue_name
    else:
        steps = list(deployment_for_run(source).get("pull_steps") or [])
        if not source.code_version:
            raise RunError(f"flow run {source.id} recorded no code version: "
                           f"{_unversioned(steps)}, so its exact code cannot be rerun",
                           hint="retry it on the current code with --latest-code")
        pin = source.code_version
        if not is_image_id(pin):  # an image id pins the image, not a pull step
            _check_block_steps(pin_pull_steps(steps, pin), pin)
        version = source.deployment_version
        pool, queue = source.work_pool_name, source.work_queue_name
    new = new_id()
    run = FlowRunRecord(
        id=new, name=f"{source.name.rsplit('-', 1)[0]}-{new[:8]}",
        deployment_id=source.deployment_id, deployment_version=version,
        flow_name=source.flow_name, work_pool_name=pool, work_queue_name=queue,
        state=State.SCHEDULED.value, parameters=dict(source.parameters or {}),
        scheduled_at=utcnow(), retry_of=source.id, pinned_code_version=pin)
    with session() as db:
        db.add(run)
    return run
