"""The sync engine: push and pull any object store, packed, versioned, incremental, atomic.

Providers implement only :class:`~stowflow.transfer.store.ObjectStore`; everything else —
manifests, packing, the content-addressed cache, parallel transfer, verification,
atomic materialisation, retries, versions, rollback, gc — happens here, once.

The store-side layout is described in :mod:`stowflow.transfer.layout`, the manifest
format in :mod:`stowflow.transfer.manifest`, the node cache in :mod:`stowflow.transfer.cache`.
"""

from __future__ import annotations

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
