"""The one way stowflow-docker opens a Docker client: from the environment, checked.

The daemon is whatever the environment names (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``,
``DOCKER_CERT_PATH``; the default socket otherwise), so a pool can spread over many machines
and a remote daemon over TLS works the same. An unreachable daemon is one
:class:`~stowflow.errors.DaemonUnreachableError` that says how to start one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stowflow_docker._errors import translated

if TYPE_CHECKING:
    import docker

#: Seconds an API call may take (image builds and pushes stream, so this bounds silence).
DEFAULT_TIMEOUT = 300


def docker_client(timeout: int = DEFAULT_TIMEOUT) -> docker.DockerClient:
    """Return a client for the daemon the environment names, after a ping."""
    import docker

    with translated("connecting to the Docker daemon"):
        client = docker.from_env(timeout=timeout)
        client.ping()
    return client
