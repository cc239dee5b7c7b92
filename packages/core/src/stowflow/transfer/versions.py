"""Versions under a prefix: list them, move ``HEAD`` back (rollback), collect garbage.

Every push writes an immutable manifest; ``HEAD`` names the current one. Rollback only
rewrites ``HEAD``. ``gc`` keeps the newest ``keep`` versions (and always the one at
``HEAD``), deletes the other manifests first and then every pack and object no kept
manifest references — so an interrupted gc leaves only unreferenced garbage behind.
Pushes and gc exclude each other through leases and the gc lock
(:mod:`stowflow.transfer.leases`), so gc never deletes what a push reuses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from stowflow.errors import StorageError, StorageNotFoundError
from stowflow.transfer import layout as keys
from stowflow.transfer.cache import ContentCache
from stowflow.transfer.leases import (
    gc_lock,
    leases_prefix,
    push_lease,
    refuse_if_pushing,
    stale_leases,
)
from stowflow.transfer.manifest import Manifest
from stowflow.transfer.parallel import run_parallel
from stowflow.transfer.paths import dir_prefix, normalize_prefix
from stowflow.transfer.refs import load_manifest, read_head, write_head
from stowflow.transfer.retry import retrying
from stowflow.transfer.store import ObjectInfo, ObjectStore

#: A temp file younger than this may still be being written; gc leaves it for next time.
TEMP_MIN_AGE_S = 60


@dataclass(frozen=True)
class VersionInfo:
    """One version: id, creation time (UTC text), parent, size, layout and whether at HEAD."""

    id: str
    created: str
    parent: str | None
    files: int
    total_bytes: int
    layout: str
    current: bool


@dataclass
class GcResult:
    """What gc kept and removed: version ids, content objects and their bytes, and the
    leftovers of killed writers (temp ``.part`` files and their bytes, dead leases, the
    store's incomplete uploads: S3 multipart uploads, Azure staged blocks)."""

    kept_versions: list[str] = field(default_factory=list)
    deleted_versions: list[str] = field(default_factory=list)
    deleted_objects: int = 0
    deleted_bytes: int = 0
    deleted_temp_files: int = 0
    deleted_temp_bytes: int = 0
    deleted_leases: int = 0
    aborted_uploads: int = 0


def _manifests(store: ObjectStore, prefix: str, cache: ContentCache,
               skip: set[str] | None = None) -> dict[str, Manifest]:
    ids = [v for info in store.list(keys.manifests_prefix(prefix))
           if (v := keys.parse_version_key(info.key)) is not None and v not in (skip or ())]
    found: dict[str, Manifest] = {}

    def load(version: str) -> None:
        found[version] = load_manifest(store, prefix, version, cache)

    run_parallel(store, [partial(load, v) for v in ids], "stowflow-versions")
    return found


def _ordered(docs: dict[str, Manifest]) -> list[str]:
    return sorted(docs, key=lambda v: (docs[v].created, v), reverse=True)


def list_versions(store: ObjectStore, prefix: str) -> list[VersionInfo]:
    """Return the versions under ``prefix``, newest first (``[]`` for a foreign folder)."""
    prefix = normalize_prefix(prefix)
    store = retrying(store)
    head = read_head(store, prefix)
    docs = _manifests(store, prefix, ContentCache())
    return [VersionInfo(v, docs[v].created, docs[v].parent, len(docs[v].files),
                        docs[v].total_bytes, docs[v].layout, v == head) for v in _ordered(docs)]


def list_files(store: ObjectStore, prefix: str, version: str | None = None,
               ) -> list[tuple[str, int, bool]]:
    """Return ``(path, size, executable)`` of each file of ``version`` (default ``HEAD``).

    For a foreign folder (no ``HEAD``), the objects under the prefix are listed instead.
    """
    prefix = normalize_prefix(prefix)
    store = retrying(store)
    resolved = version or read_head(store, prefix)
    if resolved is not None:
        doc = load_manifest(store, prefix, resolved, ContentCache())
        return [(e.path, e.size, e.executable) for e in doc.files]
    base = dir_prefix(prefix)
    found = sorted((info.key[len(base):], info.size, False) for info in store.list(base)
                   if not info.key.endswith("/")
                   and not keys.is_meta_relpath(info.key[len(base):]))
    if not found:
        raise StorageNotFoundError(f"{store.name}: nothing at '{base or '/'}'")
    return found


def rollback(store: ObjectStore, prefix: str, version_id: str) -> None:
    """Point ``HEAD`` at ``version_id`` (which must exist) — pulls then get that version.

    A plain-layout (``files``) version can only be restored while its files are still in
    place; a later push that rewrote them makes rollback refuse with a ``StorageError``.
    """
    prefix = normalize_prefix(prefix)
    store = retrying(store)
    with push_lease(store, prefix) as lease:  # no gc deletes the version we point at
        lease.list_store(leases_prefix(prefix))
        _rollback(store, prefix, version_id)


def _rollback(store: ObjectStore, prefix: str, version_id: str) -> None:
    doc = load_manifest(store, prefix, version_id, ContentCache())
    mirrored = [e for e in doc.files if e.location == "file"]
    if mirrored:
        sizes = {info.key: info.size for info in store.list(dir_prefix(prefix))}
        for entry in mirrored:
            if sizes.get(keys.file_key(prefix, entry.path)) != entry.size:
                raise StorageError(
                    f"{store.name}: cannot roll back to {version_id}: it is a plain-layout "
                    f"version and '{entry.path}' was changed by a later push",
                    hint="push that tree again (plain layouts keep only the latest files)")
    write_head(store, prefix, version_id)


def gc(store: ObjectStore, prefix: str, keep: int, *, force: bool = False) -> GcResult:
    """Delete all but the newest ``keep`` versions and every object only they referenced.

    The version at ``HEAD`` is always kept. Two phases: gc first reads the manifests and
    the store and marks what no kept version references, then takes the gc lock
    (:mod:`stowflow.transfer.leases`; refused while a push is in flight, and pushes that
    start wait for it), reads the manifests and ``HEAD`` again — a version written or
    rolled back to since the mark keeps everything it references — and only then deletes.
    It also removes temp files (``.part``), incomplete uploads (both older than
    :data:`TEMP_MIN_AGE_S`) and leases left by killed writers. ``force``
    ignores push leases (a crashed push's lease on another host). Returns a
    :class:`GcResult`.
    """
    if keep < 1:
        raise StorageError(f"gc needs keep >= 1, got {keep}", hint="keep at least one version")
    prefix = normalize_prefix(prefix)
    store = retrying(store)
    if not force:
        refuse_if_pushing(store, prefix, "gc")  # fail before the long listing
    cache = ContentCache()
    head = read_head(store, prefix)
    docs = _manifests(store, prefix, cache)
    if head is not None and head not in docs:
        raise StorageNotFoundError(f"{store.name}: HEAD names {head}, which has no manifest",
                                   hint="roll back to a listed version before collecting")
    ordered = _ordered(docs)
    kept = set(ordered[:keep]) | ({head} if head else set())
    listing = list(store.list(dir_prefix(prefix)))
    with gc_lock(store, prefix, force=force) as lock:
        # Phase two: whatever was written since the mark above is protected.
        for version, doc in _manifests(store, prefix, cache, skip=set(docs)).items():
            docs[version] = doc
            kept.add(version)
        head = read_head(store, prefix)
        if head is not None:
            kept.add(head)
        referenced = _referenced(prefix, [docs[v] for v in kept if v in docs])
        ordered = _ordered(docs)
        result = GcResult(kept_versions=[v for v in ordered if v in kept],
                          deleted_versions=[v for v in ordered if v not in kept])
        garbage = [info for info in listing if _is_content(info.key)
                   and info.key not in referenced]
        leftovers = [info for info in listing if keys.is_temp_upload(info.key)
                     and info.key not in referenced and _older_than(info, TEMP_MIN_AGE_S)]
        _delete(store, [keys.manifest_key(prefix, v) for v in result.deleted_versions],
                lock.check)
        _delete(store, [info.key for info in garbage], lock.check)
        _delete(store, [info.key for info in leftovers], lock.check)
        lock.check()
        result.aborted_uploads = store.abort_uploads(dir_prefix(prefix), TEMP_MIN_AGE_S)
        stale = stale_leases(store, prefix)
        _delete(store, stale, lock.check)
    result.deleted_objects = len(garbage)
    result.deleted_bytes = sum(info.size for info in garbage)
    result.deleted_temp_files = len(leftovers)
    result.deleted_temp_bytes = sum(info.size for info in leftovers)
    result.deleted_leases = len(stale)
    return result


def _is_content(key: str) -> bool:
    return keys.parse_content_key(key) is not None and ("/.stowflow/packs/" in f"/{key}"
                                                        or "/.stowflow/objects/" in f"/{key}")


def _referenced(prefix: str, docs: list[Manifest]) -> set[str]:
    """The keys of every pack, object and plain-layout file the manifests ``docs`` name."""
    referenced: set[str] = set()
    for doc in docs:
        referenced.update(keys.pack_key(prefix, p) for p in doc.packs)
        for entry in doc.files:
            if entry.location == "object":
                referenced.add(keys.object_key(prefix, entry.sha256))
            elif entry.location == "file":
                referenced.add(keys.file_key(prefix, entry.path))
    return referenced


def _older_than(info: ObjectInfo, seconds: float) -> bool:
    return info.modified is not None and time.time() - info.modified > seconds


def _delete(store: ObjectStore, keys_: list[str],
            before_each_batch: Callable[[], None] | None = None) -> None:
    for start in range(0, len(keys_), 1000):
        if before_each_batch is not None:
            before_each_batch()
        store.delete(keys_[start:start + 1000])
