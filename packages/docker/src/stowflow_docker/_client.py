"""The one way stowflow-docker opens a Docker client: from the environment, checked.

The daemon is whatever the environment names (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``,
``DOCKER_CERT_PATH``; the default socket otherwise), so a pool can spread over many machines
and a remote daemon over TLS works the same. An unreachable daemon is one
:class:`~stowflow.errors.DaemonUnreachableError` that says how to start one.

The daemon's CA is the one in ``DOCKER_CERT_PATH`` even when ``REQUESTS_CA_BUNDLE`` or
``CURL_CA_BUNDLE`` is set: requests lets those variables replace a session's own CA on
every request, so with the SDK as it is a machine that sets them (many do, for a
corporate proxy) could never verify a daemon signed by its own CA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stowflow_docker._errors import translated

if TYPE_CHECKING:
    import docker

#: Seconds an API call may take (image builds and pushes stream, so this bounds silence).
DEFAULT_TIMEOUT = 300


def docker_client(timeout: int = DEFAULT_TIMEOUT) -> docker.DockerClient:
    """Return a client for the daemon the environment names, after a ping."""
    import docker

    class PinnedCAClient(docker.APIClient):
        """An API client whose TLS CA (``DOCKER_CERT_PATH``) no environment variable replaces."""

        def merge_environment_settings(self, url: Any, proxies: Any, stream: Any,
                                       verify: Any, cert: Any) -> Any:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if isinstance(self.verify, str):  # the daemon's CA file
                settings["verify"] = self.verify
            return settings

    class Client(docker.DockerClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.api = PinnedCAClient(*args, **kwargs)

    with translated("connecting to the Docker daemon"):
        client = Client.from_env(timeout=timeout)
        client.ping()
    return client
