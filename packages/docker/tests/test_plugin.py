"""The stowflow-docker plugin: discovery, hooks, block registration through the CLI."""

from __future__ import annotations

import yaml
from stowflow.deployments.recipes import recipes
from stowflow.testing.plugins import ProviderPluginSuite
from stowflow_docker import DockerRegistryCredentials
from stowflow_docker.deployments import steps as provider_steps


class TestDockerPlugin(ProviderPluginSuite):
    plugin_name = "docker"
    distribution = "stowflow-docker"
    hooks = ["stowflow_register_block_types", "stowflow_register_recipes",
             "stowflow_register_steps", "stowflow_register_worker_types"]
    sdk_modules = ("docker", "requests")
    block_classes = {"docker-registry-credentials": DockerRegistryCredentials}
    steps = {"stowflow_docker.deployments.steps.build_docker_image":
             provider_steps.build_docker_image,
             "stowflow_docker.deployments.steps.push_docker_image":
             provider_steps.push_docker_image}
    recipe_names = ("docker",)
    hint_keys = ("docker",)


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
