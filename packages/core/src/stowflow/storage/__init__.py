"""Code storage: where a deployment's code lives (local folder, git, object store, block).

Imports are lazy: ``from stowflow.storage import GitRepository`` loads only the git engine.
"""

from __future__ import annotations

import importlib
from typing import Any

from stowflow.storage.base import PullResult, Storage

_LAZY = {
    "LocalStorage": "stowflow.storage.local",
    "RemoteStorage": "stowflow.storage.remote",
    "GitRepository": "stowflow.storage.git",
    "BlockStorage": "stowflow.storage.block",
    "resolve": "stowflow.storage.resolve",
}

__all__ = ["PullResult", "Storage", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stowflow.storage' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
