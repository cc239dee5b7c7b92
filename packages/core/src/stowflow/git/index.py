"""Writing a git index (``.git/index``) for a work tree that stowflow laid out itself.

A work tree built from hard links to the content cache needs an index whose stat data
matches its files, or ``git status`` would re-read every file (or, without an index, show
them all as untracked). The format is git's documented ``index-format.txt``: version 2,
or version 3 when an entry carries the skip-worktree bit (files outside a sparse cone).
Entries are sorted by path bytes, as git sorts them; only SHA-1 repositories are written
(stowflow's mirrors are created SHA-1).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

_MASK = 0xFFFFFFFF
_EXTENDED = 0x4000
_SKIP = struct.pack(">H", 0x4000)  # skip-worktree, in the extended flags


class IndexEntry(NamedTuple):
    """One path of the index: git mode (``0o100644``...), blob or commit id, and its file
    (a tuple: a pull makes one per file).

    ``stat`` is the file's ``os.lstat`` result, or ``None`` for an entry with no file in
    the work tree (a gitlink not checked out, a skip-worktree file: git then compares the
    object, not the file).
    """

    path: str
    mode: int
    oid: str
    stat: os.stat_result | None = None
    skip_worktree: bool = False


_HEAD = struct.Struct(">10I20sH")
_PADS = tuple(b"\0" * n for n in range(9))


def _entry_bytes(entry: IndexEntry, version: int) -> bytes:
    st = entry.stat
    name = entry.path.encode()
    flags = min(len(name), 0xFFF)
    extra = b""
    if version >= 3 and entry.skip_worktree:
        flags |= _EXTENDED
        extra = _SKIP
    if st is None:
        head = _HEAD.pack(0, 0, 0, 0, 0, 0, entry.mode, 0, 0, 0, bytes.fromhex(entry.oid),
                          flags)
    else:
        ctime, mtime = st.st_ctime_ns, st.st_mtime_ns
        head = _HEAD.pack(ctime // 10**9 & _MASK, ctime % 10**9, mtime // 10**9 & _MASK,
                          mtime % 10**9, st.st_dev & _MASK, st.st_ino & _MASK, entry.mode,
                          st.st_uid & _MASK, st.st_gid & _MASK, st.st_size & _MASK,
                          bytes.fromhex(entry.oid), flags)
    size = len(head) + len(extra) + len(name)
    return head + extra + name + _PADS[8 - size % 8]  # 1 to 8 NULs: the name's end, padding


def write_index(path: Path, entries: Iterable[IndexEntry]) -> None:
    """Write the index file at ``path`` (atomically, via ``index.lock`` as git does)."""
    ordered = sorted(entries, key=lambda e: e.path.encode())
    version = 3 if any(e.skip_worktree for e in ordered) else 2
    data = b"DIRC" + struct.pack(">II", version, len(ordered)) + \
        b"".join(_entry_bytes(e, version) for e in ordered)
    data += hashlib.sha1(data).digest()  # git's own checksum of the file
    lock = path.with_name(path.name + ".lock")
    lock.write_bytes(data)
    os.replace(lock, path)
