"""The sync engine: push and pull any object store, packed, versioned, incremental, atomic.

Providers implement only :class:`~stowflow.transfer.store.ObjectStore`; everything else —
manifests, packing, the content-addressed cache, parallel transfer, verification,
atomic materialisation, retries, versions, rollback, gc — happens here, once.
"""

from __future__ import annotations

from stowflow.transfer.store import ObjectInfo, ObjectStore

__all__ = ["ObjectInfo", "ObjectStore"]
