"""DockerRegistryCredentials: saved encrypted, logs in through the SDK, refusals are clear."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from stowflow.blocks import Block
from stowflow.blocks import documents as block_store
from stowflow.errors import RegistryAuthError
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.docker import DockerDaemon, DockerRegistry
from stowflow_docker import DockerRegistryCredentials


def test_block_round_trip_keeps_the_password_secret(stowflow_home: Path) -> None:
    block = DockerRegistryCredentials(username="ci", password="pw-round-trip-1",
                                      registry_url="registry.example.com:5000")
    block.save("reg")
    loaded = Block.load("docker-registry-credentials/reg")
    assert isinstance(loaded, DockerRegistryCredentials)
    assert isinstance(loaded.password, SecretStr)
    assert loaded.password.get_secret_value() == "pw-round-trip-1"
    assert loaded.reauth is True
    assert "pw-round-trip-1" not in repr(loaded)
    assert_no_secret("pw-round-trip-1", stowflow_home)  # encrypted at rest
    assert block_store is not None


@pytest.mark.slow
def test_login_accepted_and_refused(docker_env: DockerDaemon, docker_registry: DockerRegistry,
                                    registry_credentials: DockerRegistryCredentials,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    client = registry_credentials.get_client()
    assert client.ping()
    wrong = DockerRegistryCredentials(username=docker_registry.username,
                                      password="refused-pw-2",
                                      registry_url=docker_registry.address)
    with pytest.raises(RegistryAuthError) as caught:
        wrong.get_client()
    assert docker_registry.address in str(caught.value)
    out, err = capsys.readouterr()
    assert_no_secret("refused-pw-2", str(caught.value), out, err, docker_registry.log_text(),
                     Path.home() / ".docker")
    assert_no_secret(docker_registry.password, out, err, Path.home() / ".docker")
