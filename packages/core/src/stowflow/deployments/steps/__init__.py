"""Core deployment steps, addressed in ``stowflow.yaml`` as ``stowflow.deployments.steps.NAME``.

Each step lives with the engine it wraps; this module is their one public address.
Imports are lazy so that using one step does not import every engine.
"""

from __future__ import annotations

import importlib
from typing import Any

_STEPS = {
    "git_clone": "stowflow.steps.git_steps",
    "push_to_remote_storage": "stowflow.steps.remote_storage_steps",
    "pull_from_remote_storage": "stowflow.steps.remote_storage_steps",
    "set_working_directory": "stowflow.steps.utility_steps",
    "pip_install_requirements": "stowflow.steps.utility_steps",
    "run_shell_script": "stowflow.steps.utility_steps",
    "pull_with_block": "stowflow.steps.block_steps",
}

__all__ = sorted(_STEPS)


def __getattr__(name: str) -> Any:
    module = _STEPS.get(name)
    if module is None:
        raise AttributeError(f"module 'stowflow.deployments.steps' has no step {name!r}")
    return getattr(importlib.import_module(module), name)
