"""Laying a commit's files out from the content cache by hard links, as object-store pulls do.

The files of a pulled commit live in the sync engine's content-addressed cache
(:class:`~stowflow.transfer.cache.ContentCache`, keyed by sha256, read-only). A new work
tree is made by :class:`~stowflow.transfer.materialise.TreeBuilder`: one hard link per
file already cached; only the files the cache lacks are written, by one
``git checkout-index`` from the mirror's packs (parallel workers), and then adopted by
the cache (hashed, made read-only, hard-linked in — no second write). So a first pull
costs about what ``git clone`` costs, a warm pull into a new folder writes no file
content, and a new commit writes only the files it changed.

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
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stowflow.git.index import IndexEntry, write_index
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

    def mark_checked(self, path: Path, mtime_ns: int | None = None) -> None:
        """Remember the mtime of cache entry ``path`` (its bytes were just verified);
        ``mtime_ns`` when the caller knows it (saves a ``stat``)."""
        if mtime_ns is None:
            try:
                mtime_ns = path.stat().st_mtime_ns
            except OSError:
                return
        self.checked[path.name] = mtime_ns
        self._new.append(f"M {path.name} {mtime_ns}")

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


def build(builder: TreeBuilder, mirror: Mirror, commit_sha: str,
          directories: Sequence[str]) -> None:
    """Lay ``commit_sha`` out in ``builder``'s tree and write its ``.git/index``.

    The tree's ``.git`` must exist (it borrows the mirror's objects). Cached files are
    hard-linked; the rest — files the cache lacks, symlinks, empty files — are written by
    one ``git checkout-index`` (parallel workers, C speed, straight from the packs), then
    made read-only and adopted into the cache by hard link, so no file is written twice.
    Files outside the sparse cone of ``directories`` get no file and the skip-worktree
    bit; gitlinks (submodules) get an empty folder.
    """
    entries = list_tree(mirror, commit_sha)
    wanted = [e for e in entries if in_cone(e.path, directories)]
    builder.make_dirs([e.path for e in wanted])
    blobs = BlobMap(mirror)
    missing: list[TreeEntry] = []  # written by git, then adopted
    root = builder.root
    root_str = os.fspath(root)
    objects = os.fspath(builder.cache.root / "objects")
    for entry in wanted:
        executable = entry.mode == _EXEC
        if entry.mode == _GITLINK:
            (root / entry.path).mkdir(exist_ok=True)
        elif entry.mode == _LINK or entry.size == 0:
            missing.append(entry)  # symlink targets and empty files are not cached
        elif entry.oid in blobs.blobs:
            sha, size = blobs.blobs[entry.oid]
            source = _usable(objects, blobs, sha, size, executable)
            if source is None:
                missing.append(entry)
            elif source.endswith(".x") == executable:
                try:
                    os.link(source, f"{root_str}/{entry.path}")
                except OSError:  # another filesystem, or the link limit
                    builder.link_cached(entry.path, sha, executable)
            else:  # cached with the other exec bit: the builder makes that copy
                builder.link_cached(entry.path, sha, executable)
        else:
            missing.append(entry)
    index_path = root / ".git" / "index"
    if missing:
        first: dict[str, TreeEntry] = {}  # each cacheable blob is written once …
        again: list[TreeEntry] = []  # … and its other paths linked to the cache after
        write: list[TreeEntry] = []
        for entry in missing:
            cacheable = entry.mode != _LINK and entry.size != 0
            if entry.size == 0 and entry.mode != _LINK:
                builder.empty(entry.path, entry.mode == _EXEC)  # writable, as git makes it
            elif cacheable and entry.oid in first:
                again.append(entry)
            else:
                if cacheable:
                    first[entry.oid] = entry
                write.append(entry)
        # git takes what to write from an index: one of just these entries (the real one,
        # with every file's stat data, is written below)
        if write:
            write_index(index_path, [IndexEntry(e.path, e.mode, e.oid) for e in write])
            _checkout(root, mirror, [e.path for e in write])
        _adopt(builder, blobs, list(first.values()))
        for entry in again:
            sha, _ = blobs.blobs[entry.oid]
            builder.link_cached(entry.path, sha, entry.mode == _EXEC)
    blobs.save()
    in_tree = {e.path for e in wanted}
    index = []
    for entry in entries:
        if entry.path not in in_tree:
            index.append(IndexEntry(entry.path, entry.mode, entry.oid, skip_worktree=True))
        elif entry.mode == _GITLINK:
            index.append(IndexEntry(entry.path, entry.mode, entry.oid))
        else:
            index.append(IndexEntry(entry.path, entry.mode, entry.oid,
                                    os.lstat(f"{root_str}/{entry.path}")))
    write_index(index_path, index)


def _checkout(root: Path, mirror: Mirror, paths: Sequence[str]) -> None:
    """Have git write ``paths`` of the index into the tree (from the mirror's objects)."""
    # umask 222: the files come out read-only (0444, 0555 with the exec bit), as the cache
    # keeps them, with no chmod per file
    run_git(["-c", "checkout.workers=0", "checkout-index", "-z", "--stdin"], cwd=root,
            env=mirror.env.local(), input="\0".join(paths).encode() + b"\0", umask=0o222,
            action=f"checkout from the cache of {mirror.url}")


def _adopt(builder: TreeBuilder, blobs: BlobMap, entries: Sequence[TreeEntry]) -> None:
    """Add the read-only files git just wrote to the content cache (each entry a
    different blob); the blob map learns each blob's sha256 and size and its cache
    entry's mtime."""
    root = os.fspath(builder.root)
    objects = os.fspath(builder.cache.root / "objects")
    for entry in entries:
        executable = entry.mode == _EXEC
        path = f"{root}/{entry.path}"
        with open(path, "rb") as handle:
            sha = hashlib.file_digest(handle, "sha256").hexdigest()
            st = os.fstat(handle.fileno())
        blobs.add_blob(entry.oid, sha, st.st_size)
        name = f"{sha}.x" if executable else sha
        final = f"{objects}/{sha[:2]}/{name}"
        try:
            try:
                os.link(path, final)
            except FileNotFoundError:  # the shard's first entry
                os.makedirs(f"{objects}/{sha[:2]}", exist_ok=True)
                os.link(path, final)
        except FileExistsError:  # cached already (through another source): keep that one,
            pass  # and hash it before its first use here
        except OSError:  # another filesystem, or the link limit: the cache copies it
            builder.cache.adopt(Path(path), sha, executable)
            blobs.mark_checked(Path(final))
        else:
            blobs.mark_checked(Path(final), st.st_mtime_ns)
