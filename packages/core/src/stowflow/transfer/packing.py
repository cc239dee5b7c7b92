"""Packs: many small files concatenated into one content-addressed object.

Push side: :func:`plan_packs` groups small files (in path order, so a folder's files sit
together) into packs of about :func:`pack_target` bytes; :func:`build_pack` reads them,
re-checks each file's sha256 (a file changed since it was hashed is an error, not a
corrupt version) and returns the pack's bytes, digest and offsets.

Pull side: :func:`plan_reads` decides per pack whether to fetch it whole (when most of it
is needed) or as byte ranges, merging ranges separated by small gaps into one request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stowflow.errors import StorageError

MiB = 1024 * 1024
SMALL_FILE_LIMIT = 1 * MiB  #: files below this size go into packs
MIN_PACK = 1 * MiB
MAX_PACK = 8 * MiB
WHOLE_PACK_RATIO = 0.5  #: fetch the whole pack when at least this share of it is needed
RANGE_GAP = 64 * 1024  #: merge two ranges when fewer bytes than this separate them


def pack_target(total_small_bytes: int, concurrency: int) -> int:
    """Return the pack size to aim for: enough packs to use every connection, 1 to 8 MiB each."""
    share = total_small_bytes // max(concurrency, 1)
    return max(MIN_PACK, min(MAX_PACK, share))


@dataclass(frozen=True)
class PackItem:
    """A file to put in a pack: its sha256, size and where to read it."""

    sha256: str
    size: int
    path: Path


def plan_packs(items: Sequence[PackItem], target: int) -> list[list[PackItem]]:
    """Group ``items`` (already unique by sha256, in path order) into packs of ~``target``."""
    packs: list[list[PackItem]] = []
    current: list[PackItem] = []
    size = 0
    for item in items:
        if current and size + item.size > target:
            packs.append(current)
            current, size = [], 0
        current.append(item)
        size += item.size
    if current:
        packs.append(current)
    return packs


def build_pack(items: Sequence[PackItem]) -> tuple[bytes, str, dict[str, int]]:
    """Read ``items`` into one pack; return (bytes, sha256, {file sha256: offset}).

    Raises ``StorageError`` if a file's bytes no longer match the sha256 it was hashed to.
    """
    chunks: list[bytes] = []
    offsets: dict[str, int] = {}
    offset = 0
    for item in items:
        data = item.path.read_bytes()
        if len(data) != item.size or hashlib.sha256(data).hexdigest() != item.sha256:
            raise StorageError(f"'{item.path}' changed while it was being pushed",
                               hint="push again once the files are stable")
        offsets[item.sha256] = offset
        chunks.append(data)
        offset += len(data)
    blob = b"".join(chunks)
    return blob, hashlib.sha256(blob).hexdigest(), offsets


@dataclass(frozen=True)
class Wanted:
    """Bytes ``[offset, offset + size)`` of a pack that hold the content ``sha256``."""

    sha256: str
    offset: int
    size: int


@dataclass
class Read:
    """One request against a pack: ``[start, end)`` (``None`` for the whole pack)."""

    pack: str
    start: int
    end: int
    whole: bool
    wanted: list[Wanted] = field(default_factory=list)

    @property
    def byte_range(self) -> tuple[int, int] | None:
        """The range to request, or ``None`` to fetch the whole object."""
        return None if self.whole else (self.start, self.end)


def plan_reads(pack: str, pack_size: int, wanted: Sequence[Wanted]) -> list[Read]:
    """Return the requests that fetch every ``wanted`` piece of ``pack``, as few as sensible."""
    pieces = sorted({w.sha256: w for w in wanted}.values(), key=lambda w: w.offset)
    if not pieces:
        return []
    needed = sum(w.size for w in pieces)
    if needed >= WHOLE_PACK_RATIO * pack_size:
        return [Read(pack, 0, pack_size, True, list(pieces))]
    reads: list[Read] = []
    for piece in pieces:
        end = piece.offset + piece.size
        if reads and piece.offset - reads[-1].end <= RANGE_GAP:
            last = reads[-1]
            last.end = max(last.end, end)
            last.wanted.append(piece)
        else:
            reads.append(Read(pack, piece.offset, end, False, [piece]))
    return reads
