"""Registries filled from the registration hooks: block types, steps, init recipes and
work pool types.

Each is built once from ``stowflow_register_*`` on first use and cached until
:func:`reset` (subscribed to :func:`stowflow.plugins.reset_plugin_manager`). Core owns naming
and collisions here, in one place, for every plugin.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stowflow.errors import ConfigError, MissingDistributionError, PluginError
from stowflow.plugins import on_reset

if TYPE_CHECKING:
    from stowflow.blocks.core import Block
    from stowflow.workers.types import WorkerType


@dataclass(frozen=True)
class Recipe:
    """A ``stowflow init`` template: a plugin's build/push/pull sections, completed by core."""

    name: str
    description: str
    yaml_text: str

    def render(self, **fields: str) -> str:
        """Return the whole ``stowflow.yaml``: core's ``name`` and ``deployments`` added, filled in.

        Raises ``KeyError`` (or ``ValueError``) for a field the template names but
        ``fields`` lacks, or for unbalanced braces.
        """
        from stowflow.deployments.recipes import complete_recipe

        return complete_recipe(self.yaml_text).format(**fields)


_lock = threading.RLock()
_block_types: dict[str, type[Block]] | None = None
_steps: dict[str, Callable[..., Any]] | None = None
_recipes: dict[str, Recipe] | None = None
_worker_types: dict[str, WorkerType] | None = None


def reset() -> None:
    """Forget every registry; the next access rebuilds it from the hooks."""
    global _block_types, _steps, _recipes, _worker_types
    with _lock:
        _block_types = _steps = _recipes = _worker_types = None


on_reset(reset)


def block_types() -> dict[str, type[Block]]:
    """Return ``{slug: Block class}`` for every block type the plugins register."""
    global _block_types
    with _lock:
        if _block_types is None:
            from stowflow.blocks.core import Block
            from stowflow.plugins import get_plugin_manager

            found: dict[str, type[Block]] = {}

            def register(cls: type[Block]) -> None:
                if not (isinstance(cls, type) and issubclass(cls, Block)):
                    raise PluginError(f"register() expects a Block subclass, got {cls!r}")
                slug = cls.get_block_type_slug()
                other = found.get(slug)
                if other is not None and other is not cls:
                    raise PluginError(
                        f"block type '{slug}' is registered twice: by "
                        f"{other.__module__}.{other.__qualname__} and "
                        f"{cls.__module__}.{cls.__qualname__}"
                    )
                found[slug] = cls

            get_plugin_manager().hook.stowflow_register_block_types(register=register)
            _block_types = found
        return dict(_block_types)


def steps() -> dict[str, Callable[..., Any]]:
    """Return ``{import.path.of.step: function}`` for every registered step."""
    global _steps
    with _lock:
        if _steps is None:
            from stowflow.plugins import get_plugin_manager

            found: dict[str, Callable[..., Any]] = {}

            def register(func: Callable[..., Any]) -> None:
                found[f"{func.__module__}.{func.__qualname__}"] = func

            get_plugin_manager().hook.stowflow_register_steps(register=register)
            _steps = found
        return dict(_steps)


def recipes() -> dict[str, Recipe]:
    """Return ``{name: Recipe}`` for every ``stowflow init`` recipe."""
    global _recipes
    with _lock:
        if _recipes is None:
            from stowflow.plugins import get_plugin_manager

            found: dict[str, Recipe] = {}

            def register(name: str, description: str, yaml_text: str) -> None:
                if name in found:
                    raise PluginError(f"init recipe '{name}' is registered twice")
                found[name] = Recipe(name, description, yaml_text)

            get_plugin_manager().hook.stowflow_register_recipes(register=register)
            _recipes = found
        return dict(_recipes)


def worker_types() -> dict[str, WorkerType]:
    """Return ``{name: WorkerType}`` for every work pool type (core's ``process`` included)."""
    global _worker_types
    with _lock:
        if _worker_types is None:
            from stowflow.plugins import get_plugin_manager
            from stowflow.workers.types import WorkerType

            found: dict[str, WorkerType] = {}

            def register(worker_type: WorkerType) -> None:
                if not isinstance(worker_type, WorkerType):
                    raise PluginError(f"register() expects a WorkerType, got {worker_type!r}")
                if worker_type.name in found:
                    raise PluginError(f"work pool type '{worker_type.name}' is registered twice")
                found[worker_type.name] = worker_type

            get_plugin_manager().hook.stowflow_register_worker_types(register=register)
            _worker_types = found
        return dict(_worker_types)


def worker_type(name: str) -> WorkerType:
    """Return the registered work pool type ``name``; an unknown one is an error that names
    the package to install when an official plugin provides it."""
    found = worker_types()
    if name in found:
        return found[name]
    from stowflow.plugins import install_hints

    distribution = install_hints().get(name)
    if distribution:
        raise MissingDistributionError(f"work pool type '{name}'", distribution)
    raise ConfigError(f"unknown work pool type {name!r}",
                      hint=f"supported types: {', '.join(sorted(found))}")
