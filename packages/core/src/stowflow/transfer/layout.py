"""Where the engine keeps things under a prefix (the store-side layout).

Packed layout (the default)::

    <prefix>/.stowflow/HEAD                     text: the current version id + newline
    <prefix>/.stowflow/manifests/<id>.json      one immutable manifest per version
    <prefix>/.stowflow/packs/<sha256>.pack      small files concatenated (content-addressed)
    <prefix>/.stowflow/objects/<sha256>         one large file (content-addressed)

Plain layout (``layout="files"``) writes each file at ``<prefix>/<relpath>`` plus the
same ``HEAD`` and manifest. A version id is the sha256 of its manifest's bytes, so a
manifest fetched from the store is verified against the id that named it. ``HEAD`` is
written last: it is the single commit point of a push. A prefix without ``.stowflow/HEAD``
is a foreign folder, pulled by listing it.
"""

from __future__ import annotations

import re

from stowflow.transfer.paths import join_key

META_DIR = ".stowflow"
PACK_SUFFIX = ".pack"
MANIFEST_SUFFIX = ".json"
#: Stores that write through a temp file (local disks) name it ``.<8 hex>-<random>.part``
#: next to its target; one left by a killed writer is collected by gc.
TEMP_PREFIX_LEN = 8
TEMP_SUFFIX = ".part"
_TEMP_NAME = re.compile(r"\.[0-9a-f]{8}-[A-Za-z0-9_]+\.part")


def head_key(prefix: str) -> str:
    """Return the key of the ``HEAD`` pointer under ``prefix``."""
    return join_key(prefix, f"{META_DIR}/HEAD")


def meta_prefix(prefix: str) -> str:
    """Return the listing prefix of everything the engine keeps under ``prefix``."""
    return join_key(prefix, f"{META_DIR}/")


def manifests_prefix(prefix: str) -> str:
    """Return the listing prefix of the manifests under ``prefix``."""
    return join_key(prefix, f"{META_DIR}/manifests/")


def manifest_key(prefix: str, version: str) -> str:
    """Return the key of version ``version``'s manifest."""
    return join_key(prefix, f"{META_DIR}/manifests/{version}{MANIFEST_SUFFIX}")


def pack_key(prefix: str, sha: str) -> str:
    """Return the key of the pack whose content hashes to ``sha``."""
    return join_key(prefix, f"{META_DIR}/packs/{sha}{PACK_SUFFIX}")


def object_key(prefix: str, sha: str) -> str:
    """Return the key of the standalone object whose content hashes to ``sha``."""
    return join_key(prefix, f"{META_DIR}/objects/{sha}")


def file_key(prefix: str, relpath: str) -> str:
    """Return the key of ``relpath`` in the plain (``files``) layout."""
    return join_key(prefix, relpath)


def is_meta_relpath(relpath: str) -> bool:
    """Return whether a path relative to the prefix is inside the engine's ``.stowflow/``."""
    return relpath == META_DIR or relpath.startswith(f"{META_DIR}/")


def parse_version_key(key: str) -> str | None:
    """Return the version id named by a manifest key, or ``None`` for other keys."""
    name = key.rsplit("/", 1)[-1]
    if not name.endswith(MANIFEST_SUFFIX):
        return None
    version = name[: -len(MANIFEST_SUFFIX)]
    return version if is_sha256(version) else None


def parse_content_key(key: str) -> str | None:
    """Return the sha256 named by a pack or object key, or ``None`` for other keys."""
    name = key.rsplit("/", 1)[-1]
    if name.endswith(PACK_SUFFIX):
        name = name[: -len(PACK_SUFFIX)]
    return name if is_sha256(name) else None


def is_sha256(text: str) -> bool:
    """Return whether ``text`` is a lowercase hex sha256 digest."""
    return len(text) == 64 and not text.strip("0123456789abcdef")


def is_temp_upload(key: str) -> bool:
    """Return whether ``key`` names a store-side temp file (``.<8 hex>-<random>.part``)."""
    return _TEMP_NAME.fullmatch(key.rsplit("/", 1)[-1]) is not None
