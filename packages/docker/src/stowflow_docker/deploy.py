"""What a docker pool does at deploy time: build/push ``deploy(image=...)``, check images.

:func:`deploy_image` is the worker type's ``deploy_image``: it builds the image from the
current directory (the code baked in, with ``dockerfile="auto"`` at
:data:`~stowflow_docker.dockerfile.CODE_DIR`), pushes it and returns the reference to
record — pinned by digest once pushed. :func:`check_job_variables` refuses a deployment
whose image exists neither on the Docker host nor in its registry, saying which was asked.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from stowflow.errors import DeploymentError, ImageNotFoundError
from stowflow.workers.types import DeployedImage

from stowflow_docker._client import docker_client
from stowflow_docker._errors import translate
from stowflow_docker.dockerfile import CODE_DIR
from stowflow_docker.images import DockerImage, build_image, push_image, split_reference


def deploy_image(image: Any, *, build: bool, push: bool, baked: bool) -> DeployedImage:
    """Build (``build``) and push (``push``) ``image`` — a name or a :class:`DockerImage`;
    without either, check it exists. Return the reference to record."""
    if not isinstance(image, DockerImage | str):
        raise DeploymentError(f"image must be a name or a DockerImage, not {type(image).__name__}")
    spec = image if isinstance(image, DockerImage) else DockerImage(image)
    code_directory = None
    if build:
        built = build_image(spec, Path.cwd())
        name, tag = built.image_name, built.tag
        reference = built.image
        if baked and spec.dockerfile == "auto":
            code_directory = CODE_DIR
    else:
        name, tag = spec.name, spec.tag or "latest"
        reference = f"{name}:{tag}"
        check_image(reference, spec.credentials)
    if push:
        reference = push_image(name, tag, spec.credentials).image
    return DeployedImage(reference, code_directory)


def check_image(reference: str, credentials: Any = None) -> None:
    """Raise :class:`ImageNotFoundError` unless ``reference`` is on the Docker host or in
    its registry; the message says where it was looked for."""
    import docker.errors

    client = docker_client()
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(reference)
        return
    auth = credentials.auth_config() if credentials is not None else None
    try:
        client.images.get_registry_data(reference, auth_config=auth)
    except docker.errors.DockerException as exc:
        error = translate(exc, "looking up", reference)
        if isinstance(error, ImageNotFoundError) or isinstance(exc, docker.errors.NotFound):
            name, _ = split_reference(reference.split("@", 1)[0])
            registry = name.split("/", 1)[0] if "/" in name and (
                "." in name.split("/", 1)[0] or ":" in name.split("/", 1)[0]) else "Docker Hub"
            raise ImageNotFoundError(
                f"image {reference} is neither on the Docker host nor in its registry "
                f"({registry})",
                hint="build it (build=True / build_docker_image), pull it, or push it") from exc
        if type(error).__name__ == "ImageError":  # the registry could not be asked
            raise ImageNotFoundError(
                f"image {reference} is not on the Docker host, and its registry could not "
                f"be asked: {error.message}", hint="check the registry address and network, "
                "or build/pull the image on the Docker host") from exc
        raise error from exc


def check_job_variables(job_variables: dict[str, Any]) -> None:
    """Deploy-time check of a docker deployment (its variables over the pool's defaults):
    every value is one a container can honour, it names an image, and the image exists."""
    from stowflow.steps.templating import resolve

    from stowflow_docker.worker import check_variables, registry_credentials

    if not job_variables.get("image"):
        raise DeploymentError("a deployment to a docker pool needs an image",
                              hint="set job_variables.image (e.g. '{{ build-image.image }}') "
                                   "or deploy(image=...)")
    check_variables(job_variables)
    image = job_variables["image"]
    if "{{" in str(image):
        return  # filled in at run time
    credentials = registry_credentials(resolve(job_variables.get("registry_credentials")))
    check_image(str(image), credentials)


def check_pool_defaults(job_variables: dict[str, Any]) -> None:
    """Check a docker pool's default job variables (the image may be left to deployments)."""
    from stowflow_docker.worker import check_variables

    check_variables(job_variables, need_image=False)
