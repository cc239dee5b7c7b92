"""The sync engine: push and pull any object store, packed, versioned, incremental, atomic.

Providers implement only :class:`~stowflow.transfer.store.ObjectStore`; everything else —
manifests, packing, the content-addressed cache, parallel transfer, verification,
atomic materialisation, retries, versions, rollback, gc — happens here, once.

The store-side layout is described in :mod:`stowflow.transfer.layout`, the manifest
format in :mod:`stowflow.transfer.manifest`, the node cache in :mod:`stowflow.transfer.cache`.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stowflow.transfer.fsspec_store import FsspecStore
    from stowflow.transfer.ignore import DEFAULT_STOWFLOWIGNORE
    from stowflow.transfer.progress import ProgressCallback, ProgressEvent
    from stowflow.transfer.pull import PullResult, pull
    from stowflow.transfer.push import PushResult, push
    from stowflow.transfer.store import ObjectInfo, ObjectStore
    from stowflow.transfer.url import open_store, split_url
    from stowflow.transfer.versions import (
        GcResult,
        VersionInfo,
        gc,
        list_files,
        list_versions,
        rollback,
    )

#: Public name -> the module defining it. Imported on first use: a provider's steps module
#: (``from stowflow import transfer``) should not pay for the engine until a step runs, and
#: fsspec costs most of this package's import time (providers with native clients never
#: need it).
_LAZY = {
    "DEFAULT_STOWFLOWIGNORE": "ignore",
    "FsspecStore": "fsspec_store",
    "GcResult": "versions",
    "ObjectInfo": "store",
    "ObjectStore": "store",
    "ProgressCallback": "progress",
    "ProgressEvent": "progress",
    "PullResult": "pull",
    "PushResult": "push",
    "VersionInfo": "versions",
    "gc": "versions",
    "list_files": "versions",
    "list_versions": "versions",
    "open_store": "url",
    "pull": "pull",
    "push": "push",
    "rollback": "versions",
    "split_url": "url",
}

__all__ = [
    "DEFAULT_STOWFLOWIGNORE",
    "FsspecStore",
    "GcResult",
    "ObjectInfo",
    "ObjectStore",
    "ProgressCallback",
    "ProgressEvent",
    "PullResult",
    "PushResult",
    "VersionInfo",
    "gc",
    "list_files",
    "list_versions",
    "open_store",
    "pull",
    "push",
    "rollback",
    "split_url",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stowflow.transfer' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"stowflow.transfer.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


class _EnginePackage(types.ModuleType):
    """This package's module type: a function is never replaced by its submodule.

    ``pull`` and ``push`` are both functions and submodules. Importing the submodule
    ``stowflow.transfer.pull`` (any ``from stowflow.transfer.pull import ...``) makes the
    import system set the package attribute ``pull`` to that module, after which
    ``transfer.pull(...)`` would fail with "'module' object is not callable"; here the
    attribute becomes the submodule's function of the same name instead.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _EnginePackage
