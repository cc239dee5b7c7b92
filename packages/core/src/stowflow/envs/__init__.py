"""Run environments: the packages a run needs, in cached layers beside the worker's own.

- :mod:`~stowflow.envs.layers`: a layer's key, build (once, under a lock), lease, activation;
- :mod:`~stowflow.envs.requirements`: requirements files (includes resolved) and lock files;
- :mod:`~stowflow.envs.run`: the layers of the run this process executes;
- :mod:`~stowflow.envs.inventory`: listing and pruning the layers on this machine.
"""

from __future__ import annotations

from stowflow.envs.layers import (
    ENV_VAR,
    Layer,
    LayerSpec,
    activate,
    ensure_layer,
    interpreter_tag,
    layer_key,
    layers_root,
    masked,
    parse_packages,
)
from stowflow.envs.requirements import Requirements, read_requirements

__all__ = [
    "ENV_VAR",
    "Layer",
    "LayerSpec",
    "Requirements",
    "activate",
    "ensure_layer",
    "interpreter_tag",
    "layer_key",
    "layers_root",
    "masked",
    "parse_packages",
    "read_requirements",
]
