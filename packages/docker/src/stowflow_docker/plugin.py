"""Hook implementations of the stowflow-docker plugin (the ``stowflow`` entry point ``docker``).

Only hook functions live here; the Docker SDK is imported only when a hook needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stowflow import hookimpl
from stowflow.deployments.recipes import deployments_section

RECIPE = """\
# stowflow.yaml for {project_name}: the code is baked into a Docker image on deploy;
# a docker work pool runs each flow run in a container of that image.
build:
- stowflow_docker.deployments.steps.build_docker_image:
    id: build-image
    requires: stowflow-docker>=0.1
    image_name: {project_name}
    dockerfile: auto
push: null
pull:
- stowflow.deployments.steps.set_working_directory:
    directory: /opt/stowflow/flows
""" + deployments_section("my-docker-pool", image="{{ build-image.image }}")


@hookimpl
def stowflow_register_block_types(register: Callable[[type[Any]], None]) -> None:
    """Register ``DockerRegistryCredentials``."""
    from stowflow_docker.credentials import DockerRegistryCredentials

    register(DockerRegistryCredentials)


@hookimpl
def stowflow_register_steps(register: Callable[[Callable[..., Any]], None]) -> None:
    """Register ``build_docker_image`` and ``push_docker_image``."""
    from stowflow_docker.deployments.steps import build_docker_image, push_docker_image

    register(build_docker_image)
    register(push_docker_image)


@hookimpl
def stowflow_register_recipes(register: Callable[[str, str, str], None]) -> None:
    """Register the ``docker`` recipe of ``stowflow init``."""
    register("docker", "bake the code into a Docker image; run it on a docker work pool", RECIPE)


@hookimpl
def stowflow_register_worker_types(register: Callable[[Any], None]) -> None:
    """Register the ``docker`` work pool type: each run in a container of its image."""
    from stowflow.workers.types import WorkerType

    from stowflow_docker.deploy import check_job_variables, check_pool_defaults, deploy_image
    from stowflow_docker.worker import JOB_VARIABLES, make_launcher

    register(WorkerType(name="docker", description="each run in a fresh container of the "
                        "deployment's image", make_launcher=make_launcher,
                        job_variables=JOB_VARIABLES, deploy_image=deploy_image,
                        check_job_variables=check_job_variables,
                        check_pool_defaults=check_pool_defaults))
