"""Code storage: where a deployment's code lives (local folder, git, object store, block).

Imports are lazy: ``from stowflow.storage import GitRepository`` loads only the git engine.
"""

from __future__ import annotations

import importlib
from typing import Any

from stowflow.storage.base import PullResult, Storage

# Imported eagerly (it is light): a lazy name equal to its submodule's name would be
# replaced by the module object the first time the submodule is imported.
from stowflow.storage.resolve import resolve

_LAZY = {
    "LocalStorage": "stowflow.storage.local",
    "RemoteStorage": "stowflow.storage.remote",
    "GitRepository": "stowflow.storage.git",
    "BlockStorage": "stowflow.storage.block",
}

__all__ = ["PullResult", "Storage", "resolve", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stowflow.storage' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
