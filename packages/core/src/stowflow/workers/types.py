"""Work pool types: what a plugin registers to let a pool run its kind of job.

A :class:`WorkerType` says how a worker of such a pool starts claimed runs (its
:class:`~stowflow.workers.runner.Launcher`; claiming, heartbeats, cancellation and crash
handling stay in :class:`~stowflow.workers.worker.Worker` for every type), which
``job_variables`` its deployments may set, and — for types that run images — how
``flow.deploy(image=...)`` builds, pushes and checks one. Core registers ``process``
through the same hook (``stowflow_register_worker_types``) as plugins register theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stowflow.errors import ConfigError, MissingDistributionError, PluginError
from stowflow.plugins import Collected, get_plugin_manager

if TYPE_CHECKING:
    from stowflow.workers.runner import Launcher


@dataclass(frozen=True)
class DeployedImage:
    """What a worker type's ``deploy_image`` returns: the image reference to record (pinned
    by digest when it was pushed) and, for code baked into it, the folder holding the code."""

    reference: str
    code_directory: str | None = None


@dataclass(frozen=True)
class WorkerType:
    """One kind of work pool.

    - ``make_launcher(pool_name)``: the launcher a worker of the pool uses;
    - ``job_variables``: the ``job_variables`` keys deployments of the pool may set (any
      other key is refused at deploy time: a setting we cannot honour is an error);
    - ``deploy_image(image, build=, push=, baked=)``: builds/pushes/checks ``image`` (a
      string or a plugin's image object) for ``flow.deploy(image=...)``; ``None`` when the
      type runs no images;
    - ``check_job_variables(job_variables)``: deploy-time checks of a deployment's
      variables over its pool's defaults (an image that must exist); raises a
      :class:`~stowflow.errors.StowflowError` to refuse the deployment;
    - ``check_pool_defaults(job_variables)``: checks the defaults ``work-pool create
      --job-variable`` gives a pool (values only: a deployment may add what is missing);
    - ``serve(deployment_ids, limit=, poll_interval=, run_once=)``: runs those deployments'
      runs from this process until stopped, returning how many ran (``flow.serve``; the
      ``process`` type has it, so ``flows`` starts a worker without importing ``workers``).
    """

    name: str
    description: str
    make_launcher: Callable[[str], Launcher]
    job_variables: frozenset[str] = frozenset({"env"})
    deploy_image: Callable[..., DeployedImage] | None = None
    check_job_variables: Callable[[dict[str, Any]], None] | None = None
    check_pool_defaults: Callable[[dict[str, Any]], None] | None = None
    serve: Callable[..., int] | None = None


def _collect_worker_types() -> dict[str, WorkerType]:
    found: dict[str, WorkerType] = {}

    def register(worker_type: WorkerType) -> None:
        if not isinstance(worker_type, WorkerType):
            raise PluginError(f"register() expects a WorkerType, got {worker_type!r}")
        if worker_type.name in found:
            raise PluginError(f"work pool type '{worker_type.name}' is registered twice")
        found[worker_type.name] = worker_type

    get_plugin_manager().hook.stowflow_register_worker_types(register=register)
    return found


_registered = Collected(_collect_worker_types)


def worker_types() -> dict[str, WorkerType]:
    """Return ``{name: WorkerType}`` for every work pool type (core's ``process`` included)."""
    return dict(_registered.get())


def worker_type(name: str) -> WorkerType:
    """Return the registered work pool type ``name``; an unknown one is an error that names
    the package to install when an official plugin provides it."""
    found = worker_types()
    if name in found:
        return found[name]
    from stowflow.plugins import install_hints

    distribution = install_hints().get(name)
    if distribution:
        raise MissingDistributionError(f"work pool type '{name}'", distribution)
    raise ConfigError(f"unknown work pool type {name!r}",
                      hint=f"supported types: {', '.join(sorted(found))}")
