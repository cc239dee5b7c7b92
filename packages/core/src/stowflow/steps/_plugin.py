"""Core's built-in hook implementations for the steps area: core steps and init recipes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stowflow.plugins import hookimpl

LOCAL_RECIPE = """\
# stowflow.yaml for {project_name}: the code stays in this folder on this machine.
# Runs on a worker on this machine pull nothing; they start in this folder.
build: null
push: null
pull:
- stowflow.deployments.steps.set_working_directory:
    directory: {directory}
"""

GIT_RECIPE = """\
# stowflow.yaml for {project_name}: workers clone the code from git at run time.
# For a private repository add `credentials: "{{{{ stowflow.blocks.<type>.<name> }}}}"`
# (for example a github-credentials block, or a secret block holding a token).
build: null
push: null
pull:
- stowflow.deployments.steps.git_clone:
    id: clone
    repository: {repository}
    branch: {branch}
"""


@hookimpl
def stowflow_register_steps(register: Callable[[Callable[..., Any]], None]) -> None:
    """Register every core step published at ``stowflow.deployments.steps``."""
    from stowflow.deployments import steps as public_steps

    for name in public_steps.__all__:
        register(getattr(public_steps, name))


@hookimpl
def stowflow_register_recipes(register: Callable[[str, str, str], None]) -> None:
    """Register the ``local`` and ``git`` recipes of ``stowflow init``."""
    register("local", "code stays in a folder on the worker's machine", LOCAL_RECIPE)
    register("git", "workers clone the code from a git repository", GIT_RECIPE)
