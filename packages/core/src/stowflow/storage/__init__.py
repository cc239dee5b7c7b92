"""Code storage: where a deployment's code lives (local folder, git, object store, block).

Imports are lazy: ``from stowflow.storage import GitRepository`` loads only the git engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stowflow.storage.base import PullResult, Storage

# Imported eagerly (it is light): a lazy name equal to its submodule's name would be
# replaced by the module object the first time the submodule is imported.
from stowflow.storage.resolve import resolve

if TYPE_CHECKING:
    from stowflow.storage.block import BlockStorage
    from stowflow.storage.git import GitRepository
    from stowflow.storage.local import LocalStorage
    from stowflow.storage.remote import RemoteStorage
    from stowflow.storage.storage_block import ObjectStorageBlock, StorageBlock

_LAZY = {
    "LocalStorage": "stowflow.storage.local",
    "RemoteStorage": "stowflow.storage.remote",
    "GitRepository": "stowflow.storage.git",
    "BlockStorage": "stowflow.storage.block",
    "StorageBlock": "stowflow.storage.storage_block",
    "ObjectStorageBlock": "stowflow.storage.storage_block",
}

__all__ = [
    "BlockStorage",
    "GitRepository",
    "LocalStorage",
    "ObjectStorageBlock",
    "PullResult",
    "RemoteStorage",
    "Storage",
    "StorageBlock",
    "resolve",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stowflow.storage' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
