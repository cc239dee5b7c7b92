"""Fixtures of the stowflow-docker tests: the real daemon and registry, small projects."""

from __future__ import annotations

from pathlib import Path

import pytest
from stowflow.testing.servers.docker import DockerDaemon, DockerRegistry
from stowflow_docker import DockerRegistryCredentials

FLOW = '''\
from stowflow import flow


@flow(log_prints=True)
def hello(name: str = "World"):
    print(f"Hello {name} from a container!")
'''


@pytest.fixture
def docker_env(docker_daemon: DockerDaemon, python_base_image: str,
               monkeypatch: pytest.MonkeyPatch) -> DockerDaemon:
    """The daemon, with the offline base image as stowflow's default base image."""
    monkeypatch.setenv("DOCKER_HOST", docker_daemon.host)
    monkeypatch.setenv("STOWFLOW_DOCKER_BASE_IMAGE", python_base_image)
    monkeypatch.setenv("STOWFLOW_DOCKER_BUILD_NETWORK", "host")  # the daemon has no bridge
    return docker_daemon


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A one-flow project folder."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "flows.py").write_text(FLOW)
    return root


@pytest.fixture
def registry_credentials(docker_registry: DockerRegistry) -> DockerRegistryCredentials:
    """Credentials the test registry accepts."""
    return DockerRegistryCredentials(username=docker_registry.username,
                                     password=docker_registry.password,
                                     registry_url=docker_registry.address)
