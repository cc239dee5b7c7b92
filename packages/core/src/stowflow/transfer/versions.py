"""Versions under a prefix: list them, move ``HEAD`` back (rollback), collect garbage.

Every push writes an immutable manifest; ``HEAD`` names the current one. Rollback only
rewrites ``HEAD``. ``gc`` keeps the newest ``keep`` versions (and always the one at
``HEAD``), deletes the other manifests first and then every pack and object no kept
manifest references — so an interrupted gc leaves only unreferenced garbage behind.
A push in flight holds a lease (:mod:`stowflow.transfer.leases`): ``gc`` will not start
while one is live and stops before its next batch of deletions when one appears.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from stowflow.errors import StorageError, StorageNotFoundError
from stowflow.transfer import layout as keys
from stowflow.transfer.cache import ContentCache
from stowflow.transfer.leases import refuse_if_pushing
from stowflow.transfer.manifest import Manifest
from stowflow.transfer.parallel import run_parallel
from stowflow.transfer.paths import dir_prefix, normalize_prefix
from stowflow.transfer.refs import load_manifest, read_head, write_head
from stowflow.transfer.retry import retrying
from stowflow.transfer.store import ObjectStore


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
    """What gc kept and removed (version ids, and how many content objects and bytes)."""

    kept_versions: list[str] = field(default_factory=list)
    deleted_versions: list[str] = field(default_factory=list)
    deleted_objects: int = 0
    deleted_bytes: int = 0


def _manifests(store: ObjectStore, prefix: str, cache: ContentCache) -> dict[str, Manifest]:
    ids = [v for info in store.list(keys.manifests_prefix(prefix))
           if (v := keys.parse_version_key(info.key)) is not None]
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

    The version at ``HEAD`` is always kept. Refuses (a StorageError) while a push to the
    prefix is in flight, and stops before its next batch of deletions if one starts;
    ``force`` ignores push leases (for a lease left by a crashed push). Returns a
    :class:`GcResult`.
    """
    if keep < 1:
        raise StorageError(f"gc needs keep >= 1, got {keep}", hint="keep at least one version")
    prefix = normalize_prefix(prefix)
    store = retrying(store)
    check = (lambda: None) if force else partial(refuse_if_pushing, store, prefix, "gc")
    check()
    head = read_head(store, prefix)
    docs = _manifests(store, prefix, ContentCache())
    if head is not None and head not in docs:
        raise StorageNotFoundError(f"{store.name}: HEAD names {head}, which has no manifest",
                                   hint="roll back to a listed version before collecting")
    ordered = _ordered(docs)
    kept = set(ordered[:keep]) | ({head} if head else set())
    result = GcResult(kept_versions=[v for v in ordered if v in kept],
                      deleted_versions=[v for v in ordered if v not in kept])
    referenced: set[str] = set()
    for version in kept:
        doc = docs[version]
        referenced.update(keys.pack_key(prefix, p) for p in doc.packs)
        referenced.update(keys.object_key(prefix, e.sha256) for e in doc.files
                          if e.location == "object")
    _delete(store, [keys.manifest_key(prefix, v) for v in result.deleted_versions])
    garbage = [info for info in store.list(keys.meta_prefix(prefix))
               if keys.parse_content_key(info.key) is not None
               and ("/packs/" in info.key or "/objects/" in info.key)
               and info.key not in referenced]
    _delete(store, [info.key for info in garbage], before_each_batch=check)
    result.deleted_objects = len(garbage)
    result.deleted_bytes = sum(info.size for info in garbage)
    return result


def _delete(store: ObjectStore, keys_: list[str],
            before_each_batch: Callable[[], None] | None = None) -> None:
    for start in range(0, len(keys_), 1000):
        if before_each_batch is not None:
            before_each_batch()
        store.delete(keys_[start:start + 1000])
