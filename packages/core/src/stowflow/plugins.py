"""The plugin manager: discovery through the ``stowflow`` entry-point group, loaded lazily.

:func:`get_plugin_manager` builds the manager on first use: core's built-in plugins, then
every entry point in the ``stowflow`` group allowed by ``STOWFLOW_PLUGINS`` (allow-list)
and not denied by ``STOWFLOW_DISABLE_PLUGINS``. A plugin that fails to import is recorded
in :func:`plugin_infos` with its error and skipped; it never stops stowflow.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Generic, TypeVar

import pluggy

from stowflow import hookspecs

log = logging.getLogger(__name__)

PROJECT_NAME = "stowflow"
ENTRY_POINT_GROUP = "stowflow"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

#: Core features register through the same hooks as plugins; each module is one area.
BUILTIN_PLUGIN_MODULES: tuple[str, ...] = (
    "stowflow.blocks._plugin",
    "stowflow.git._plugin",
    "stowflow.transfer._plugin",
    "stowflow.storage._plugin",
    "stowflow.steps._plugin",
    "stowflow.workers._plugin",
)


@dataclass
class PluginInfo:
    """What ``stowflow plugins`` shows for one plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    builtin: bool = False


_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_infos: list[PluginInfo] = []
_reset_callbacks: list[Callable[[], None]] = []


def _hook_names(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    callers = pm.get_hookcallers(plugin) or []
    return sorted(caller.name for caller in callers)


def _register_module(pm: pluggy.PluginManager, info: PluginInfo, load: object) -> None:
    try:
        module = load() if callable(load) else load
        assert isinstance(module, ModuleType)
        pm.register(module, name=info.name)
        info.hooks = _hook_names(pm, module)
    except Exception as exc:  # a broken plugin is reported, never fatal
        info.error = f"{type(exc).__name__}: {exc}"
        log.warning("stowflow plugin %r failed to load: %s", info.name, info.error)


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(
        importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name
    )


def _build() -> tuple[pluggy.PluginManager, list[PluginInfo]]:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    version = importlib.metadata.version("stowflow")
    for module_name in BUILTIN_PLUGIN_MODULES:
        info = PluginInfo(
            name=module_name, module=module_name, distribution="stowflow", version=version,
            builtin=True,
        )
        _register_module(pm, info, lambda m=module_name: importlib.import_module(m))
        infos.append(info)

    from stowflow.settings import get_settings, names  # settings load pydantic: not at import

    settings = get_settings()
    allowed, denied = names(settings.plugins), names(settings.disable_plugins)
    for ep in _entry_points():
        if (allowed and ep.name not in allowed) or ep.name in denied:
            continue
        dist = ep.dist
        info = PluginInfo(
            name=ep.name,
            module=ep.value,
            distribution=dist.name if dist else None,
            version=dist.version if dist else None,
        )
        _register_module(pm, info, ep.load)
        infos.append(info)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        # A misspelled hook implementation fails loudly, naming the plugin and the hook.
        bad = getattr(exc, "plugin", None)
        for info in infos:
            if bad is not None and pm.get_plugin(info.name) is bad:
                info.error = f"unknown hook: {exc}"
                pm.unregister(bad)
                break
        else:
            raise
    return pm, infos


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide plugin manager, building it on first use."""
    global _manager, _infos
    with _lock:
        if _manager is None:
            _manager, _infos = _build()
        return _manager


def plugin_infos() -> list[PluginInfo]:
    """Return what was loaded: one :class:`PluginInfo` per built-in and entry point."""
    get_plugin_manager()
    with _lock:
        return list(_infos)


def reset_plugin_manager() -> None:
    """Forget the manager so the next call rebuilds it (settings or installs changed)."""
    global _manager, _infos
    with _lock:
        _manager, _infos = None, []
        callbacks = list(_reset_callbacks)
    for callback in callbacks:
        callback()


def on_reset(callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever :func:`reset_plugin_manager` runs (once per callback).

    Whatever caches what plugins registered (block types, steps, schemes) subscribes here,
    so the plugin manager knows none of its consumers.
    """
    with _lock:
        if callback not in _reset_callbacks:
            _reset_callbacks.append(callback)


T = TypeVar("T")


class Collected(Generic[T]):
    """A value built from the plugins (a registration hook's results) on first use and
    forgotten by :func:`reset_plugin_manager`: the one shape of every plugin registry.

    The owner of each registry (block types in ``blocks.types``, steps in
    ``steps.engine``, recipes in ``deployments.recipes``, work pool types in
    ``workers.types``, URL schemes in ``transfer.schemes``) declares
    ``_found = Collected(build)`` and reads ``_found.get()``; this module knows none of them.
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._built = False
        self._lock = threading.RLock()
        on_reset(self.reset)

    def get(self) -> T:
        """Return the value, building it from the plugins the first time."""
        with self._lock:
            if not self._built:
                self._value, self._built = self._build(), True
            return self._value  # type: ignore[return-value]

    def reset(self) -> None:
        """Forget the value; the next :meth:`get` builds it again."""
        with self._lock:
            self._value, self._built = None, False


def install_hints() -> dict[str, str]:
    """Return the merged ``stowflow_install_hints`` of every plugin (later ones win).

    Core's built-ins answer too: URL schemes come from the scheme table through
    ``transfer/_plugin.py``, block slugs and modules from ``blocks/_plugin.py``.
    """
    merged: dict[str, str] = {}
    for hints in reversed(get_plugin_manager().hook.stowflow_install_hints()):
        merged.update(hints)
    return merged
