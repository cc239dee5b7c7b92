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
per pull), shared by every process on the machine, in two forms:

- a *stamp set* per list of entries a pull asked for (one row: the names once, and an
  array of their stamps rewritten by every pull of that list — a warm pull of the same
  version reads and writes one row, not 5,300); the last :data:`MAX_SETS` sets are kept;
- one row per entry for the rest (entries stamped outside a set: ``verify-cache``, the
  other exec bit's copy, a cache whose set was dropped).

Every stamp in either form was taken by stowflow while the entry was intact, so an entry
whose stat equals *any* of its recorded stamps is intact: a stale stamp only costs a hash.
A stamp is written only by the process that took it (a set's row is merged in the
writing transaction, never overwritten with what was read earlier), and removing an
entry from the cache drops its stamps from both forms.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

Stamp = tuple[int, int, int, int]  # inode, size, mtime_ns, ctime_ns

_SCHEMA = ("CREATE TABLE IF NOT EXISTS stamps (name TEXT PRIMARY KEY, ino INTEGER, "
           "size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER)",
           "CREATE TABLE IF NOT EXISTS set_names (id TEXT PRIMARY KEY, names BLOB) "
           "WITHOUT ROWID",
           "CREATE TABLE IF NOT EXISTS set_stamps (id TEXT PRIMARY KEY, seq INTEGER, "
           "stamps BLOB) WITHOUT ROWID")
#: How many stamp sets are kept (the most recently written); an older one is dropped,
#: which only costs a hash of its entries at their next use.
MAX_SETS = 16
#: The stamp of a set's entry not stamped yet (no stat equals it).
_NONE: Stamp = (-1, -1, -1, -1)


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
                for statement in _SCHEMA:
                    connection.execute(statement)
            finally:
                connection.close()
        _prepared.add(path)


def set_id(names: list[str]) -> str:
    """Return the id of the stamp set of ``names`` (in this order)."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:32]


class _Set:
    """A stamp set this process loaded: its names and the stamps it took for them."""

    def __init__(self, key: str, names: list[str], known: bool) -> None:
        self.key, self.names, self.known = key, names, known  # known: its row exists
        self.index = dict(zip(names, range(len(names)), strict=True))  # name -> position
        self.taken: dict[int, Stamp] = {}  # position -> stamp taken by this process


def _unpack(blob: object) -> list[Stamp]:
    """A set's stamps from their row; ``[]`` for a malformed row (then it is ignored)."""
    values = array.array("q")
    try:
        values.frombytes(blob)  # type: ignore[arg-type]
        it = iter(values)
        return list(zip(it, it, it, it, strict=True))
    except (ValueError, TypeError):
        return []


def _pack(stamps: list[Stamp]) -> bytes:
    return array.array("q", itertools.chain.from_iterable(stamps)).tobytes()


class StampBook:
    """The stamps of one cache's entries, keyed by the entry's file name (``<sha>[.x]``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pending: dict[str, Stamp] = {}
        self._sets: dict[str, _Set] = {}

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        _prepare(self.path)
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            connection.execute("PRAGMA synchronous=NORMAL")  # a lost tail costs a hash
            yield connection
        finally:
            connection.close()

    def _register(self, key: str, names: list[str], known: bool) -> None:
        if key not in self._sets:
            self._sets[key] = _Set(key, names, known)

    def read_set(self, names: list[str]) -> dict[str, Stamp] | None:
        """Return the stamps the set of ``names`` (distinct, in a stable order) holds, or
        ``None`` when there is no such set yet; either way, stamps :meth:`put` for these
        names from now on go to that set."""
        key = set_id(names)
        with self._db() as db:
            row = db.execute("SELECT stamps FROM set_stamps WHERE id = ?", (key,)).fetchone()
        with self._lock:
            self._register(key, names, row is not None)
        if row is None:
            return None
        stamps = _unpack(row[0])
        if len(stamps) != len(names):
            return None
        return {name: stamp for name, stamp in zip(names, stamps, strict=True)
                if stamp != _NONE}

    def _all_sets(self, db: sqlite3.Connection) -> list[tuple[str, list[str], list[Stamp]]]:
        """Every stamp set in the file: (id, names, stamps)."""
        rows = db.execute("SELECT n.id, n.names, s.stamps FROM set_names n "
                          "JOIN set_stamps s ON s.id = n.id").fetchall()
        found = []
        for key, names, stamps in rows:
            if not isinstance(names, bytes):
                continue
            listed, unpacked = names.decode(errors="replace").split("\n"), _unpack(stamps)
            if len(listed) == len(unpacked):
                found.append((key, listed, unpacked))
        return found

    def read_all(self, names: Iterable[str], *, skip: str | None = None,
                 ) -> dict[str, set[Stamp]]:
        """Return every stamp recorded for ``names`` — the per-entry rows and every set's
        (but set ``skip``'s): name -> stamps (one query each)."""
        wanted = set(names)
        found: dict[str, set[Stamp]] = {n: {s} for n, s in self.read(wanted).items()}
        with self._db() as db:
            sets = self._all_sets(db)
        for key, listed, stamps in sets:
            if key == skip:
                continue
            for name, stamp in zip(listed, stamps, strict=True):
                if name in wanted and stamp != _NONE:
                    found.setdefault(name, set()).add(stamp)
        return found

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
        wanted = set(inodes)
        found: dict[int, list[tuple[str, Stamp]]] = {}
        if not wanted:
            return found
        with self._db() as db:
            rows = db.execute("SELECT name, ino, size, mtime_ns, ctime_ns FROM stamps "
                              "WHERE ino IN (SELECT value FROM json_each(?))",
                              (json.dumps(list(wanted)),))
            for name, ino, size, mtime_ns, ctime_ns in rows:
                found.setdefault(ino, []).append((name, (ino, size, mtime_ns, ctime_ns)))
            sets = self._all_sets(db)
        with self._lock:
            for key, listed, stamps in sets:  # stamps taken now go to these sets too
                self._register(key, listed, True)
                for name, stamp in zip(listed, stamps, strict=True):
                    if stamp[0] in wanted:
                        found.setdefault(stamp[0], []).append((name, stamp))
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
            placed = False
            for entry in self._sets.values():
                position = entry.index.get(name)
                if position is not None:
                    entry.taken[position] = stamp
                    placed = True
            if not placed:
                self._pending[name] = stamp

    def flush(self) -> None:
        """Write every stamp put since the last flush, in one transaction: the per-entry
        rows, and each set's row merged with what it holds now (only the stamps this
        process took replace the recorded ones)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            changed = []
            for entry in self._sets.values():
                if entry.taken or not entry.known:
                    changed.append((entry, entry.taken))
                    entry.taken = {}
        rows = [(name, *stamp) for name, stamp in pending.items()]
        if not rows and not changed:
            return
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if rows:
                    db.executemany("INSERT OR REPLACE INTO stamps VALUES (?, ?, ?, ?, ?)",
                                   rows)
                for entry, taken in changed:
                    self._write_set(db, entry, taken)
                db.execute("DELETE FROM set_stamps WHERE id NOT IN (SELECT id FROM "
                           "set_stamps ORDER BY seq DESC LIMIT ?)", (MAX_SETS,))
                db.execute("DELETE FROM set_names WHERE id NOT IN "
                           "(SELECT id FROM set_stamps)")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    @staticmethod
    def _write_set(db: sqlite3.Connection, entry: _Set, taken: dict[int, Stamp]) -> None:
        row = db.execute("SELECT stamps FROM set_stamps WHERE id = ?",
                         (entry.key,)).fetchone()
        stamps = _unpack(row[0]) if row is not None else []
        if len(stamps) != len(entry.names):
            stamps = [_NONE] * len(entry.names)
        for position, stamp in taken.items():
            stamps[position] = stamp
        seq = db.execute("SELECT coalesce(max(seq), 0) + 1 FROM set_stamps").fetchone()[0]
        if row is None:
            db.execute("INSERT OR REPLACE INTO set_names VALUES (?, ?)",
                       (entry.key, "\n".join(entry.names).encode()))
        db.execute("INSERT OR REPLACE INTO set_stamps VALUES (?, ?, ?)",
                   (entry.key, seq, _pack(stamps)))
        entry.known = True

    def forget(self, names: Iterable[str]) -> None:
        """Drop the stamps of ``names`` (entries removed from the cache), from the
        per-entry rows and from every set, in one transaction."""
        gone = set(names)
        if not gone:
            return
        with self._lock:
            for name in gone:
                self._pending.pop(name, None)
                for entry in self._sets.values():
                    position = entry.index.get(name)
                    if position is not None:
                        entry.taken.pop(position, None)
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("DELETE FROM stamps WHERE name = ?", [(n,) for n in gone])
                for key, listed, stamps in self._all_sets(db):
                    hit = [i for i, name in enumerate(listed) if name in gone]
                    if hit:
                        for i in hit:
                            stamps[i] = _NONE
                        db.execute("UPDATE set_stamps SET stamps = ? WHERE id = ?",
                                   (_pack(stamps), key))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
