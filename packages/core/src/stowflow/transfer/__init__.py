"""The sync engine: push and pull any object store, packed, versioned, incremental, atomic.

Providers implement only :class:`~stowflow.transfer.store.ObjectStore`; everything else —
manifests, packing, the content-addressed cache, parallel transfer, verification,
atomic materialisation, retries, versions, rollback, gc — happens here, once.

The store-side layout is described in :mod:`stowflow.transfer.layout`, the manifest
format in :mod:`stowflow.transfer.manifest`, the node cache in :mod:`stowflow.transfer.cache`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from stowflow.transfer.fsspec_store import FsspecStore

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
    # fsspec is imported only when its store is wanted (it costs most of this package's
    # import time, and providers with native clients never need it).
    if name == "FsspecStore":
        from stowflow.transfer.fsspec_store import FsspecStore

        return FsspecStore
    raise AttributeError(f"module 'stowflow.transfer' has no attribute {name!r}")
