"""Manifests: what a version holds and where each file's bytes live.

A manifest is canonical JSON (sorted keys, no spaces, UTF-8)::

    {"format": 1, "created": "2026-01-01T00:00:00.000000Z", "parent": "<id>"|null,
     "layout": "packed"|"files",
     "packs": {"<sha256>": <size>, ...},
     "files": [{"path": "a/b.py", "size": 12, "sha256": "...", "exec": false,
                "in": "pack", "pack": "<sha256>", "offset": 0}, ...]}

``in`` is ``"pack"`` (bytes at ``offset`` in the pack), ``"object"`` (a standalone object
named by the file's sha256), ``"file"`` (the plain layout's ``<prefix>/<path>``) or
``"empty"`` (size 0, nothing stored). The version id is the sha256 of these bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from stowflow.errors import IntegrityError, StorageError
from stowflow.transfer.layout import is_sha256
from stowflow.transfer.paths import check_paths

FORMAT = 1
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

Location = Literal["pack", "object", "file", "empty"]


class FileEntry(NamedTuple):
    """One file of a version: path, size, sha256, executable bit and where its bytes are.

    A named tuple rather than a frozen dataclass: a pull makes one per file of the
    manifest, and a tuple is made several times faster.
    """

    path: str
    size: int
    sha256: str
    executable: bool = False
    location: Location = "empty"
    pack: str | None = None
    offset: int = 0

    def content(self) -> tuple[str, int, str, bool]:
        """Return what the file *is* (path, size, sha256, exec), ignoring where it is stored."""
        return (self.path, self.size, self.sha256, self.executable)

    def to_json(self) -> dict[str, Any]:
        """Return the manifest's JSON object for this entry."""
        data: dict[str, Any] = {
            "path": self.path, "size": self.size, "sha256": self.sha256,
            "exec": self.executable, "in": self.location,
        }
        if self.location == "pack":
            data["pack"] = self.pack
            data["offset"] = self.offset
        return data


@dataclass(frozen=True)
class Manifest:
    """A version: its files (sorted by path), the packs they use, when and on what it was made."""

    files: tuple[FileEntry, ...]
    packs: dict[str, int] = field(default_factory=dict)
    layout: str = "packed"
    created: str = ""
    parent: str | None = None

    def to_bytes(self) -> bytes:
        """Return the canonical JSON bytes whose sha256 is the version id."""
        doc = {
            "format": FORMAT, "created": self.created, "parent": self.parent,
            "layout": self.layout, "packs": self.packs,
            "files": [entry.to_json() for entry in self.files],
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    @property
    def total_bytes(self) -> int:
        """The sum of the files' sizes."""
        return sum(entry.size for entry in self.files)

    def same_content(self, other: Manifest | None) -> bool:
        """Return whether ``other`` holds exactly the same files with the same bytes."""
        if other is None or other.layout != self.layout:
            return False
        return [e.content() for e in self.files] == [e.content() for e in other.files]


def version_id(data: bytes) -> str:
    """Return the version id of manifest bytes (their sha256)."""
    return hashlib.sha256(data).hexdigest()


def now_stamp() -> str:
    """Return the current UTC time as the manifest's ``created`` text (sortable)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build(files: list[FileEntry], *, layout: str, parent: str | None,
          packs: dict[str, int] | None = None) -> Manifest:
    """Return a new manifest of ``files`` (sorted by path), stamped now."""
    ordered = tuple(sorted(files, key=lambda e: e.path))
    return Manifest(files=ordered, packs=dict(sorted((packs or {}).items())), layout=layout,
                    created=now_stamp(), parent=parent)


def parse(data: bytes, *, where: str, expected_id: str | None = None) -> Manifest:
    """Parse and validate manifest bytes; every path is checked before anything is written.

    ``expected_id`` (the id the manifest was fetched by) must equal the bytes' sha256.
    Raises ``IntegrityError`` on a digest mismatch, ``StorageError`` on malformed JSON and
    ``UnsafePathError`` for a path that would escape the destination.
    """
    if expected_id is not None and version_id(data) != expected_id:
        raise IntegrityError(f"{where}: manifest bytes do not match version id {expected_id}")
    try:
        doc = json.loads(data)
        if doc.get("format") != FORMAT:
            raise ValueError(f"unknown manifest format {doc.get('format')!r}")
        packs = {str(k): int(v) for k, v in doc.get("packs", {}).items()}
        entries = [_entry(item, packs) for item in doc["files"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StorageError(f"{where}: malformed manifest ({exc})",
                           hint="the prefix was not written by this stowflow version") from exc
    check_paths([e.path for e in entries], where=where)
    if len({e.path for e in entries}) != len(entries):
        raise StorageError(f"{where}: malformed manifest (a path appears twice)")
    return Manifest(files=tuple(entries), packs=packs, layout=str(doc.get("layout", "packed")),
                    created=str(doc.get("created", "")), parent=doc.get("parent"))


_LOCATIONS = frozenset(("pack", "object", "file", "empty"))


def _entry(item: dict[str, Any], packs: dict[str, int]) -> FileEntry:
    location = item["in"]
    sha, size = str(item["sha256"]), int(item["size"])
    if not is_sha256(sha) or size < 0:
        raise ValueError(f"bad sha256 or size for {item.get('path')!r}")
    if location not in _LOCATIONS:
        raise ValueError(f"unknown location {location!r}")
    if location == "pack":
        pack, offset = str(item["pack"]), int(item["offset"])
        if pack not in packs or offset < 0 or offset + size > packs[pack]:
            raise ValueError(f"{item.get('path')!r} points outside its pack")
        return FileEntry(str(item["path"]), size, sha, bool(item.get("exec", False)),
                         location, pack, offset)
    if location == "empty" and (size != 0 or sha != EMPTY_SHA256):
        raise ValueError(f"{item.get('path')!r} is marked empty but is not")
    return FileEntry(str(item["path"]), size, sha, bool(item.get("exec", False)), location)
