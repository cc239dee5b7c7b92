"""``build_docker_image`` and ``push_docker_image``: the ``build:`` / ``push:`` steps.

Thin wrappers over :mod:`stowflow_docker.images`. ``credentials`` arrive as a
``DockerRegistryCredentials`` block, as its data dict (what a
``{{ stowflow.blocks.docker-registry-credentials.NAME }}`` placeholder resolves to), or
``None`` (whatever the daemon's user is logged in to).
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from stowflow_docker.credentials import DockerRegistryCredentials
from stowflow_docker.images import CODE_DIR, DockerImage, build_image, push_image


class BuildDockerImageOutputs(TypedDict):
    """What ``build_docker_image`` returns."""

    image_name: str
    tag: str
    image: str
    image_id: str
    #: where the code is inside the image (only with ``dockerfile: auto``, which puts it there)
    code_directory: NotRequired[str]


class PushDockerImageOutputs(TypedDict):
    """What ``push_docker_image`` returns; ``image`` is pinned by digest."""

    image_name: str
    tag: str
    digest: str
    image: str


def as_credentials(value: DockerRegistryCredentials | dict[str, Any] | None,
                   ) -> DockerRegistryCredentials | None:
    """Return a credentials block for a block or its data dict; ``None`` stays ``None``."""
    return None if value is None else DockerRegistryCredentials.coerce(value)


def build_docker_image(
    image_name: str,
    tag: str | None = None,
    dockerfile: str = "auto",
    path: str = ".",
    platform: str | None = None,
    build_args: dict[str, str] | None = None,
    base_image: str | None = None,
    plugins: list[str] | None = None,
    **build_kwargs: Any,
) -> BuildDockerImageOutputs:
    """Build ``image_name`` from the project at ``path``; ``tag`` defaults to a digest of
    the build context (an unchanged project is not rebuilt).

    ``dockerfile: auto`` writes the Dockerfile (dependencies, then stowflow, ``plugins``
    and the code, in that order) and adds the output ``code_directory`` (where the code is
    in the image, for a ``set_working_directory`` pull step); ``base_image`` overrides ``STOWFLOW_DOCKER_BASE_IMAGE``.
    Other keyword arguments go to the SDK's build (``network_mode``, ``pull``, ...).
    """
    built = build_image(DockerImage(image_name, tag, dockerfile=dockerfile, platform=platform,
                                    build_args=build_args, base_image=base_image,
                                    plugins=plugins, **build_kwargs), path)
    outputs: BuildDockerImageOutputs = {"image_name": built.image_name, "tag": built.tag,
                                        "image": built.image, "image_id": built.image_id}
    if dockerfile == "auto":
        outputs["code_directory"] = CODE_DIR
    return outputs


def push_docker_image(
    image_name: str,
    tag: str,
    credentials: DockerRegistryCredentials | dict[str, Any] | None = None,
) -> PushDockerImageOutputs:
    """Push ``image_name:tag``; returns the registry ``digest`` and ``image`` pinned by it."""
    pushed = push_image(image_name, tag, as_credentials(credentials))
    return {"image_name": pushed.image_name, "tag": pushed.tag, "digest": pushed.digest,
            "image": pushed.image}
