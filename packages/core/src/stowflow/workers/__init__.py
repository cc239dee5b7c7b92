"""Workers: claim flow runs and execute them, each in a fresh workspace and subprocess.

- :mod:`~stowflow.workers.pools`: work pools and the environment they give runs;
- :mod:`~stowflow.workers.claim`: atomic claiming, heartbeats, crash reaping;
- :mod:`~stowflow.workers.worker`: the process worker loop (:class:`Worker`);
- :mod:`~stowflow.workers.runner`: starting a run's process (forked by the fork server);
- :mod:`~stowflow.workers.forkserver`: the prepared parent that forks one process per run;
- :mod:`~stowflow.workers.execute`: the run subprocess and its phases;

Imports are lazy: ``from stowflow.workers import Worker`` loads only what it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Worker": "stowflow.workers.worker",
    "create_pool": "stowflow.workers.pools",
    "get_pool": "stowflow.workers.pools",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stowflow.workers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
