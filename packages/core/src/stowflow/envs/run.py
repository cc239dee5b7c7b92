"""The environment of the run this process is executing, if any.

The run process (``stowflow.workers.execute``) opens one with :func:`enter` before its
install phase. From then on whatever the run installs — ``EXTRA_PIP_PACKAGES``, the
``requires:`` of steps, ``pip_install_requirements`` — goes into the run's layer: each
install makes the layer of *everything so far* (so the inputs are resolved together and
keyed together), and the new layer replaces the previous one on the import path. Every
install is reported to the run through the ``record`` callback (cache hit or miss, the
layer key, the seconds spent). Outside a run :func:`current` is ``None`` and the steps
install into the current interpreter as a user's own script would expect.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from stowflow.envs.layers import Layer, LayerSpec, activate, ensure_layer
from stowflow.envs.requirements import Requirements

#: ``record(status, seconds, details)``: how a run hears about each install.
Recorder = Callable[[str, float, dict[str, Any]], None]


class RunEnvironment:
    """The layers one run uses; see the module docstring."""

    def __init__(self, *, used_by: str | None = None, record: Recorder | None = None) -> None:
        self.used_by = used_by
        self.record = record
        self.spec = LayerSpec()
        self.layers: list[Layer] = []  # every layer this run leased, the active one last

    @property
    def layer(self) -> Layer | None:
        """The active layer (``None`` before the first install)."""
        return self.layers[-1] if self.layers else None

    def install(self, packages: Iterable[str] = (), requirements: Iterable[Requirements] = (),
                *, source: str, report: bool = True) -> dict[str, Any]:
        """Add ``packages`` and ``requirements`` to the run's layer and activate it; return
        the install's details (``cached``, ``key``, ``layer``, ``seconds``, ...).

        ``source`` says what asked (``EXTRA_PIP_PACKAGES``, a step); with ``report`` the
        install is also passed to the recorder. Raises RunError when the install fails
        (the run keeps its previous layer).
        """
        wanted = self.spec.merged(LayerSpec(tuple(packages), tuple(requirements)))
        start = time.perf_counter()
        details: dict[str, Any] = {"source": source, "inputs": wanted.shown(),
                                   "key": wanted.key()}
        try:
            layer = ensure_layer(wanted, used_by=self.used_by)
        except BaseException as exc:
            if report and self.record is not None:
                details["error"] = str(exc)
                self.record("failed", time.perf_counter() - start, details)
            raise
        previous = self.layer
        if previous is None or previous.path != layer.path:
            activate(layer.path, replacing=previous.path if previous else None)
            self.layers.append(layer)
        else:
            layer.release()  # the same layer again: the lease we hold is enough
        self.spec = wanted
        seconds = time.perf_counter() - start
        details.update(cached=not layer.built, layer=layer.path.name,
                       waited_s=round(layer.waited_s, 3), seconds=round(seconds, 4))
        if report and self.record is not None:
            self.record("ok", seconds, details)
        return details

    def close(self) -> None:
        """Release every lease (the process ending does the same)."""
        for layer in self.layers:
            layer.release()


_current: RunEnvironment | None = None


def enter(*, used_by: str | None = None, record: Recorder | None = None) -> RunEnvironment:
    """Make a new :class:`RunEnvironment` this process's current one and return it."""
    global _current
    _current = RunEnvironment(used_by=used_by, record=record)
    return _current


def leave() -> None:
    """Close and forget the current run environment."""
    global _current
    if _current is not None:
        _current.close()
    _current = None


def current() -> RunEnvironment | None:
    """Return the environment of the run this process executes, ``None`` outside a run."""
    return _current


def layer_path() -> Path | None:
    """Return the current run's active layer folder, if any."""
    env = current()
    return env.layer.path if env and env.layer else None
