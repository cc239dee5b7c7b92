"""The stowflow-docker plugin: discovery, hooks, block registration through the CLI."""

from __future__ import annotations

import subprocess
import sys

import yaml
from stowflow.blocks import documents as block_store
from stowflow.blocks.types import block_types
from stowflow.cli.app import main
from stowflow.deployments.recipes import recipes
from stowflow.plugins import install_hints, plugin_infos
from stowflow.steps.engine import registered_steps
from stowflow_docker import DockerRegistryCredentials
from stowflow_docker.deployments import steps


def test_entry_point_loads_without_error() -> None:
    info = next(i for i in plugin_infos() if i.name == "docker")
    assert info.error is None
    assert info.distribution == "stowflow-docker"
    assert info.module == "stowflow_docker.plugin"
    assert "stowflow_register_block_types" in info.hooks


def test_loading_the_plugin_does_not_import_the_sdk() -> None:
    code = ("import sys, stowflow_docker.plugin, stowflow_docker; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('docker', 'requests')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "[]"


def test_hooks_register_block_steps_recipe_and_hints() -> None:
    assert block_types()["docker-registry-credentials"] is DockerRegistryCredentials
    found = registered_steps()
    assert found["stowflow_docker.deployments.steps.build_docker_image"] is \
        steps.build_docker_image
    assert found["stowflow_docker.deployments.steps.push_docker_image"] is \
        steps.push_docker_image
    for key in ("stowflow_docker", "docker-registry-credentials", "docker"):
        assert install_hints()[key] == "stowflow-docker"


def test_block_register_module(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["block", "register", "-m", "stowflow_docker"]) == 0
    assert "docker-registry-credentials" in capsys.readouterr().out
    assert block_store is not None


def test_recipe_renders_a_build_step_and_image_job_variable() -> None:
    data = yaml.safe_load(recipes()["docker"].render(
        project_name="shop", entrypoint="flows.py:hello", repository="", branch="",
        directory="."))
    (build,) = data["build"]
    step = build["stowflow_docker.deployments.steps.build_docker_image"]
    assert step["id"] == "build-image" and step["dockerfile"] == "auto"
    assert data["pull"] == [{"stowflow.deployments.steps.set_working_directory":
                             {"directory": "/opt/stowflow/flows"}}]
    (deployment,) = data["deployments"]
    assert deployment["work_pool"]["job_variables"] == {"image": "{{ build-image.image }}"}
    assert deployment["entrypoint"] == "flows.py:hello"
