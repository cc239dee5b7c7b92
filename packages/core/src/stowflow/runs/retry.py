"""Reruns: ``flow-run retry`` on the exact code a run ran, or on the deployment's latest.

A retry copies the finished run's parameters and deployment version and pins its pull
steps to the code version the run recorded (``code_version``: a git commit SHA or an
object-store manifest version). Pinning sets the argument of the step that produced the
version: ``commit_sha`` of a git step, else ``version`` of an object-store step; a
deployment whose pull steps cannot be pinned (a storage block, an image) is refused with
the hint to retry ``--latest-code``.
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
        if not source.code_version:
            raise RunError(f"flow run {source.id} recorded no code version (its pull steps "
                           "report none, or it failed before fetching code)",
                           hint="retry it on the current code with --latest-code")
        pin = source.code_version
        pin_pull_steps(list(deployment_for_run(source).get("pull_steps") or []), pin)  # check
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
