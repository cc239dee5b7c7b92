"""``DockerRegistryCredentials``: a registry login, sent to the daemon through the SDK only.

The password goes to the Docker daemon in the API request's auth header (what
``docker login`` does over the socket): never on a command line, never in a file on disk
(the SDK keeps logins in memory; nothing writes ``~/.docker/config.json``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, SecretStr
from stowflow.blocks import Block

from stowflow_docker._errors import translated

if TYPE_CHECKING:
    import docker


class DockerRegistryCredentials(Block):
    """A username and password (or token) for one container registry."""

    __block_type_name__ = "Docker Registry Credentials"

    username: str = Field(description="The registry user name (for a token, what the "
                                      "registry expects, e.g. 'oauth2accesstoken').")
    password: SecretStr = Field(description="The password or access token.")
    registry_url: str = Field(description="The registry, e.g. 'ghcr.io', "
                                          "'registry.example.com:5000' or 'index.docker.io'.")
    reauth: bool = Field(default=True, description="Log in again even if the daemon already "
                                                   "holds a login for this registry.")

    def auth_config(self) -> dict[str, str]:
        """Return the SDK's per-request ``auth_config`` (push and pull send it as a header)."""
        return {"username": self.username, "password": self.password.get_secret_value(),
                "serveraddress": self.registry_url}

    def login(self, client: docker.DockerClient) -> dict[str, Any]:
        """Log ``client`` in to the registry (the daemon checks the credentials); return the
        daemon's answer. A refusal is a :class:`~stowflow.errors.RegistryAuthError`."""
        with translated("logging in to", self.registry_url):
            return dict(client.login(username=self.username,
                                     password=self.password.get_secret_value(),
                                     registry=self.registry_url, reauth=self.reauth))

    def get_client(self) -> docker.DockerClient:
        """Return a client for the environment's daemon, logged in to this registry."""
        from stowflow_docker._client import docker_client

        client = docker_client()
        self.login(client)
        return client
