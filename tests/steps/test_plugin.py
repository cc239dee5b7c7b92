"""Core's steps plugin: every public core step and the local and git recipes are registered."""

from __future__ import annotations

from stowflow.deployments import recipes as recipe_registry
from stowflow.deployments import steps as public_steps
from stowflow.steps.engine import registered_steps


def test_every_core_step_is_registered() -> None:
    registered = registered_steps()
    names = {path.rsplit(".", 1)[1] for path in registered}
    assert set(public_steps.__all__) <= names
    assert {"git_clone", "push_to_remote_storage", "pull_from_remote_storage",
            "set_working_directory", "pip_install_requirements", "run_shell_script",
            "pull_with_block"} <= names
    for name in public_steps.__all__:
        assert getattr(public_steps, name) in registered.values()


def test_local_and_git_recipes_are_registered_and_valid() -> None:
    from stowflow.deployments.project import parse_project

    recipes = recipe_registry.recipes()
    for name in ("local", "git"):
        text = recipes[name].render(project_name="p", entrypoint="f.py:f",
                                              repository="https://h.test/r.git", branch="main",
                                              directory="/srv/p")
        config = parse_project(text, name)
        assert config.deployments[0].entrypoint == "f.py:f"
