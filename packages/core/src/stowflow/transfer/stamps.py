"""The identity of each content-cache entry when stowflow last saw it intact.

A cache entry is hardlinked into every tree pulled on the machine, so anything that edits
a pulled file in place (root ignores the read-only bit; ``dd conv=notrunc``) edits the
entry too, with the same size. A *stamp* is the entry's ``(inode, size, mtime_ns,
ctime_ns)`` recorded when stowflow wrote or verified it, and again right after stowflow
linked it (a link changes the inode's ctime). An entry whose stat still equals its stamp
is trusted without reading it; any other is hashed before it is used. ctime is what makes
this sound: no user can set it back (restoring the mtime after an edit changes it), so an
edit is always seen. What it costs: an entry whose link count someone else changed — a
tree holding it was deleted — is hashed once more, then stamped again.

Stamps live in one SQLite file (``<cache>/stamps.sqlite``, WAL, written in one transaction
per pull), shared by every process on the machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

Stamp = tuple[int, int, int, int]  # inode, size, mtime_ns, ctime_ns

_SCHEMA = ("CREATE TABLE IF NOT EXISTS stamps (name TEXT PRIMARY KEY, ino INTEGER, "
           "size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER)")


def stamp_of(st: os.stat_result) -> Stamp:
    """Return the stamp of a stat result."""
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


_prepared: set[Path] = set()
_prepare_lock = threading.Lock()


def _prepare(path: Path) -> None:
    """Create the stamps file (WAL, its table) once per process, under a file lock.

    Switching a new file to WAL takes an exclusive lock that SQLite's busy timeout does not
    wait for: two processes (or threads) opening a new file at once got "database is
    locked" straight away. The ``flock`` of a side file makes them take turns.
    """
    with _prepare_lock:
        if path in _prepared and path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            connection = sqlite3.connect(path, timeout=30, isolation_level=None)
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute(_SCHEMA)
            finally:
                connection.close()
        _prepared.add(path)


class StampBook:
    """The stamps of one cache's entries, keyed by the entry's file name (``<sha>[.x]``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pending: dict[str, Stamp] = {}

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        _prepare(self.path)
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            yield connection
        finally:
            connection.close()

    def read(self, names: Iterable[str]) -> dict[str, Stamp]:
        """Return the recorded stamps of ``names`` (absent names are left out), in one query."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        with self._db() as db:
            rows = db.execute("SELECT name, ino, size, mtime_ns, ctime_ns FROM stamps "
                              "WHERE name IN (SELECT value FROM json_each(?))",
                              (json.dumps(wanted),))
            return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}

    def by_inode(self, inodes: Iterable[int]) -> dict[int, list[tuple[str, Stamp]]]:
        """Return the stamps whose inode is one of ``inodes``: inode -> [(name, stamp)]
        (one query; a scan of the table, which only the removal of a tree asks for)."""
        wanted = list(set(inodes))
        found: dict[int, list[tuple[str, Stamp]]] = {}
        if not wanted:
            return found
        with self._db() as db:
            rows = db.execute("SELECT name, ino, size, mtime_ns, ctime_ns FROM stamps "
                              "WHERE ino IN (SELECT value FROM json_each(?))",
                              (json.dumps(wanted),))
            for name, ino, size, mtime_ns, ctime_ns in rows:
                found.setdefault(ino, []).append((name, (ino, size, mtime_ns, ctime_ns)))
        return found

    def note(self, path: str | os.PathLike[str]) -> None:
        """Stat the entry at ``path`` now (just written, verified or linked by us) and keep
        the stamp for :meth:`flush`."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return
        self.put(os.path.basename(path), stamp_of(st))

    def put(self, name: str, stamp: Stamp) -> None:
        """Keep entry ``name``'s ``stamp`` (from a stat taken just now) for :meth:`flush`."""
        with self._lock:
            self._pending[name] = stamp

    def flush(self) -> None:
        """Write every noted stamp, in one transaction."""
        with self._lock:
            pending, self._pending = self._pending, {}
        rows = [(name, *stamp) for name, stamp in pending.items()]
        if not rows:
            return
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR REPLACE INTO stamps VALUES (?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")

    def forget(self, names: Iterable[str]) -> None:
        """Drop the stamps of ``names`` (entries removed from the cache)."""
        rows = [(name,) for name in names]
        if rows:
            with self._db() as db:
                db.executemany("DELETE FROM stamps WHERE name = ?", rows)
