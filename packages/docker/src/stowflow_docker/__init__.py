"""stowflow-docker: Docker image storage, build/push steps and Docker work pools.

Public names: :class:`DockerRegistryCredentials` (the registry login block),
:class:`DockerImage` (``flow.deploy(image=DockerImage(...))``), :func:`build_image` and
:func:`push_image`. They are imported on first use, so loading the plugin does not import
the Docker SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stowflow_docker.credentials import DockerRegistryCredentials
    from stowflow_docker.images import DockerImage, build_image, push_image

_LAZY = {
    "DockerRegistryCredentials": "stowflow_docker.credentials",
    "DockerImage": "stowflow_docker.images",
    "build_image": "stowflow_docker.images",
    "push_image": "stowflow_docker.images",
}

__all__ = ["DockerImage", "DockerRegistryCredentials", "build_image", "push_image"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stowflow_docker' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
