"""Laying a commit's files out from the content cache by hard links, as object-store pulls do.

The files of a pulled commit live in the sync engine's content-addressed cache
(:class:`~stowflow.transfer.cache.ContentCache`, keyed by sha256, read-only). A new work
tree is made by :class:`~stowflow.transfer.materialise.TreeBuilder`: one hard link per
file already cached, and only the blobs the cache lacks are read from the mirror (one
``git cat-file --batch``), written once into the tree and adopted by the cache. So a
warm pull into a new folder writes no file content, and a new commit writes only the
files it changed.

Each mirror keeps a small map from git blob id to (sha256, size) — ``stowflow-blobs``,
append-only — and the modification time of each cache entry it has checked. Cached files
share inodes with every tree they are linked into: a file edited in place (root ignores
the read-only bit) changes its cache entry's mtime, so an entry whose mtime moved is
hashed again before it is linked, and evicted if its bytes changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stowflow.git.classify import GitCorruptionError
from stowflow.git.index import IndexEntry
from stowflow.git.mirror import Mirror, in_cone
from stowflow.git.runner import run_git
from stowflow.transfer.cache import hash_file
from stowflow.transfer.materialise import TreeBuilder

_FILE, _EXEC, _LINK, _GITLINK = 0o100644, 0o100755, 0o120000, 0o160000
_lock = threading.Lock()  # appends to a blob map from threads of one process


#: git's id of the empty blob (empty files are created, not cached)
EMPTY_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


@dataclass(frozen=True)
class TreeEntry:
    """One entry of ``git ls-tree -r``: mode, object id, path."""

    mode: int
    oid: str
    path: str

    @property
    def size(self) -> int:
        """0 for the empty blob, else -1 (unknown until read; sizes are not asked for)."""
        return 0 if self.oid == EMPTY_BLOB else -1


def list_tree(mirror: Mirror, commit_sha: str) -> list[TreeEntry]:
    """Return every blob and gitlink of ``commit_sha``.

    Only trees are read: asking for sizes (``--long``) would read every blob, and in a
    partial (sparse) mirror make git fetch the ones outside the cone.
    """
    out = run_git(["ls-tree", "-r", "-z", "--full-tree", commit_sha],
                  git_dir=mirror.path, env=mirror.env.local(),
                  action=f"read of the cache of {mirror.url}").stdout
    entries = []
    for record in out.split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        mode, _kind, oid = meta.split()
        entries.append(TreeEntry(int(mode, 8), oid, path))
    return entries


class BlobMap:
    """A mirror's map of blob id → (sha256, size), and cache entries already checked."""

    def __init__(self, mirror: Mirror) -> None:
        self.path = mirror.path / "stowflow-blobs"
        self.blobs: dict[str, tuple[str, int]] = {}
        self.checked: dict[str, int] = {}  # cache file name → mtime_ns seen when verified
        with contextlib.suppress(FileNotFoundError):
            for line in self.path.read_text().splitlines():
                parts = line.split()
                if len(parts) == 4 and parts[0] == "B":
                    self.blobs[parts[1]] = (parts[2], int(parts[3]))
                elif len(parts) == 3 and parts[0] == "M":
                    self.checked[parts[1]] = int(parts[2])
        self._new: list[str] = []

    def add_blob(self, oid: str, sha: str, size: int) -> None:
        """Remember that blob ``oid`` has content ``sha`` of ``size`` bytes."""
        self.blobs[oid] = (sha, size)
        self._new.append(f"B {oid} {sha} {size}")

    def mark_checked(self, path: Path) -> None:
        """Remember the mtime of cache entry ``path`` (its bytes were just verified)."""
        with contextlib.suppress(OSError):
            mtime = path.stat().st_mtime_ns
            self.checked[path.name] = mtime
            self._new.append(f"M {path.name} {mtime}")

    def save(self) -> None:
        """Append what was learnt (one write, so concurrent pulls interleave whole lines)."""
        if not self._new:
            return
        data = ("\n".join(self._new) + "\n").encode()
        with _lock, contextlib.suppress(OSError):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        self._new = []


def _usable(objects: str, blobs: BlobMap, sha: str, size: int,
            executable: bool) -> str | None:
    """Return the entry ``sha`` of the cache's ``objects`` folder (the wanted exec bit
    first) if it still holds its true bytes."""
    for name in ((f"{sha}.x", sha) if executable else (sha, f"{sha}.x")):
        path = f"{objects}/{sha[:2]}/{name}"
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue
        if st.st_size == size and blobs.checked.get(name) == st.st_mtime_ns:
            return path
        if st.st_size == size and hash_file(Path(path)) == sha:
            blobs.mark_checked(Path(path))
            return path
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # edited in place through a tree: evict it
    return None


class _BlobReader:
    """``git cat-file --batch`` on the mirror: yields each requested blob's bytes in order."""

    def __init__(self, mirror: Mirror, oids: Sequence[str]) -> None:
        self.mirror, self.oids = mirror, oids
        self.proc = subprocess.Popen(
            ["git", f"--git-dir={mirror.path}", "cat-file", "--batch", "--buffer"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={**mirror.env.local().environ(), "GIT_NO_LAZY_FETCH": "1"})
        self._writer = threading.Thread(target=self._write, daemon=True,
                                        name="stowflow-cat-file")
        self._writer.start()

    def _write(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.write("".join(f"{oid}\n" for oid in self.oids).encode())
            self.proc.stdin.close()

    def read(self, oid: str) -> bytes:
        """Return the next blob, which must be ``oid``; a missing object means damage."""
        assert self.proc.stdout is not None
        header = self.proc.stdout.readline().split()
        if len(header) != 3 or header[0].decode() != oid:
            raise GitCorruptionError(f"the git cache of {self.mirror.url} lost object {oid}",
                                     hint="it is rebuilt automatically")
        data = self.proc.stdout.read(int(header[2]))
        self.proc.stdout.read(1)
        return data

    def close(self) -> None:
        """Stop the process (it may still be running after an error)."""
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        self._writer.join(5)


def build(builder: TreeBuilder, mirror: Mirror, commit_sha: str,
          directories: Sequence[str]) -> list[IndexEntry]:
    """Lay ``commit_sha`` out in ``builder``'s tree; return the index entries for it.

    Files outside the sparse cone of ``directories`` get no file and the skip-worktree
    bit; gitlinks (submodules) get an empty folder. Returns entries with each file's stat.
    """
    entries = list_tree(mirror, commit_sha)
    wanted = [e for e in entries if in_cone(e.path, directories)]
    builder.make_dirs([e.path for e in wanted])
    blobs = BlobMap(mirror)
    placed: dict[tuple[str, bool], str] = {}  # content + exec bit → first path written
    extract: list[TreeEntry] = []  # read from the mirror (duplicates are linked once read)
    root = builder.root
    root_str = os.fspath(root)
    objects = os.fspath(builder.cache.root / "objects")
    for entry in wanted:
        executable = entry.mode == _EXEC
        if entry.mode == _GITLINK:
            (root / entry.path).mkdir(exist_ok=True)
        elif entry.mode == _LINK or entry.size == 0:
            extract.append(entry)  # symlink targets and empty files are not cached
        elif entry.oid in blobs.blobs:
            sha, size = blobs.blobs[entry.oid]
            source = _usable(objects, blobs, sha, size, executable)
            if source is None:
                extract.append(entry)
            elif source.endswith(".x") == executable:
                try:
                    os.link(source, f"{root_str}/{entry.path}")
                except OSError:  # another filesystem, or the link limit
                    builder.link_cached(entry.path, sha, executable)
            else:  # cached with the other exec bit: the builder makes that copy
                builder.link_cached(entry.path, sha, executable)
        else:
            extract.append(entry)
    _extract(builder, mirror, blobs, extract, placed)
    blobs.save()
    index = []
    in_tree = {e.path for e in wanted}
    for entry in entries:
        if entry.path not in in_tree:
            index.append(IndexEntry(entry.path, entry.mode, entry.oid, skip_worktree=True))
        elif entry.mode == _GITLINK:
            index.append(IndexEntry(entry.path, entry.mode, entry.oid))
        else:
            index.append(IndexEntry(entry.path, entry.mode, entry.oid,
                                    os.lstat(f"{root_str}/{entry.path}")))
    return index


def _extract(builder: TreeBuilder, mirror: Mirror, blobs: BlobMap,
             entries: Sequence[TreeEntry], placed: dict[tuple[str, bool], str]) -> None:
    first: dict[tuple[str, bool], TreeEntry] = {}  # (blob, is a symlink) → first path
    again: list[TreeEntry] = []  # more paths with the same blob, placed once it is read
    for entry in entries:
        key = (entry.oid, entry.mode == _LINK)
        if entry.size == 0 and entry.mode != _LINK:
            builder.empty(entry.path, entry.mode == _EXEC)
        elif key in first:
            again.append(entry)
        else:
            first[key] = entry
    if not first:
        return
    links: dict[str, bytes] = {}
    reader = _BlobReader(mirror, [oid for oid, _ in first])
    try:
        for (oid, _), entry in first.items():
            data = reader.read(oid)
            _place(builder, blobs, entry, data, placed)
            if entry.mode == _LINK:
                links[oid] = data
    finally:
        reader.close()
    for entry in again:
        if entry.mode == _LINK:
            os.symlink(links[entry.oid], builder.root / entry.path)
        else:
            sha, _ = blobs.blobs[entry.oid]
            builder.link_cached(entry.path, sha, entry.mode == _EXEC)


def _place(builder: TreeBuilder, blobs: BlobMap, entry: TreeEntry, data: bytes,
           placed: dict[tuple[str, bool], str]) -> None:
    if entry.mode == _LINK:
        os.symlink(data, builder.root / entry.path)
        return
    sha = hashlib.sha256(data).hexdigest()
    executable = entry.mode == _EXEC
    if (sha, executable) in placed:
        builder.link_cached(entry.path, sha, executable)
        return
    builder.write(entry.path, data, sha, executable)
    placed[(sha, executable)] = entry.path
    blobs.add_blob(entry.oid, sha, len(data))
    blobs.mark_checked(builder.cache.object_path(sha, executable))
