"""Reading and writing ``HEAD`` and manifests (shared by push, pull and versions)."""

from __future__ import annotations

from stowflow.errors import StorageError, StorageNotFoundError
from stowflow.transfer import layout, manifest
from stowflow.transfer.cache import ContentCache
from stowflow.transfer.store import ObjectStore


def read_head(store: ObjectStore, prefix: str) -> str | None:
    """Return the version id ``HEAD`` names, or ``None`` when the prefix has no ``HEAD``."""
    key = layout.head_key(prefix)
    try:
        text = store.get_bytes(key).decode("ascii", "replace").strip()
    except StorageNotFoundError:
        return None
    if not layout.is_sha256(text):
        raise StorageError(f"{store.name}: '{key}' does not name a version",
                           hint="roll back to a listed version with `stowflow storage rollback`")
    return text


def write_head(store: ObjectStore, prefix: str, version: str) -> None:
    """Point ``HEAD`` at ``version`` — the single commit point of a push or rollback."""
    store.put(layout.head_key(prefix), f"{version}\n".encode())


def load_manifest(store: ObjectStore, prefix: str, version: str,
                  cache: ContentCache | None = None) -> manifest.Manifest:
    """Return version ``version``'s manifest, from the local cache when it is there.

    The bytes are verified against the id, and every path is validated. With a cache, the
    parsed manifest is kept too (:meth:`ContentCache.parsed_manifest`), so the next load
    of the same version reads no JSON. Raises ``StorageNotFoundError`` naming the store
    and key when the version does not exist.
    """
    if not layout.is_sha256(version):
        raise StorageNotFoundError(f"{store.name}: '{version}' is not a version id",
                                   hint="list versions with `stowflow storage versions URL`")
    key = layout.manifest_key(prefix, version)
    where = f"{store.name}/{key}"
    if cache is not None and (parsed := cache.parsed_manifest(version)) is not None:
        return parsed
    data = cache.manifest(version) if cache is not None else None
    fetched = data is None
    if data is None:
        try:
            data = store.get_bytes(key)
        except StorageNotFoundError as exc:
            raise StorageNotFoundError(
                f"{store.name}: version {version} not found (no '{key}')",
                hint="list versions with `stowflow storage versions URL`",
            ) from exc
    parsed = manifest.parse(data, where=where, expected_id=version)
    if cache is not None:
        if fetched:
            cache.save_manifest(version, data)
        cache.save_parsed_manifest(version, parsed)
    return parsed


def save_manifest(store: ObjectStore, prefix: str, doc: manifest.Manifest,
                  cache: ContentCache | None = None) -> str:
    """Upload ``doc`` and return its version id (``HEAD`` is not moved)."""
    data = doc.to_bytes()
    version = manifest.version_id(data)
    store.put(layout.manifest_key(prefix, version), data)
    if cache is not None:
        cache.save_manifest(version, data)
    return version
