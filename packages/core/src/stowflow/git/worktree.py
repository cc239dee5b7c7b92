"""Laying a commit's files out from the content cache by hard links, as object-store pulls do.

The files of a pulled commit live in the sync engine's content-addressed cache
(:class:`~stowflow.transfer.cache.ContentCache`, read-only entries), named by their git
blob id: git has already checked every blob it fetched, and ``ls-tree`` names each file's
blob, so a checkout needs no hash of its own. A new work tree is made by
:class:`~stowflow.transfer.materialise.TreeBuilder`: one hard link per file already
cached; only the files the cache lacks are written, by one ``git checkout-index`` from the
mirror's packs (parallel workers), which also records their stat data in the index, and
then they are hard-linked into the cache (no second write, no read). So a first pull
costs about what ``git clone`` costs, a warm pull into a new folder writes no file
content, and a new commit writes only the files it changed.

Cached files share inodes with every tree they are linked into, so a file edited in place
(root ignores the read-only bit) edits its cache entry too. A cache entry is linked only
when its stat equals its stamp in the cache's stamps file (inode, size, mtime_ns and
ctime_ns, which nobody can set back; :mod:`stowflow.transfer.stamps`), the same rule as
object-store pulls; any other entry is hashed again (as a git blob) before it is linked,
and evicted if its bytes changed. Each link moves the entry's ctime, so it is stamped
again right after.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from stowflow.git.index import IndexEntry, write_index
from stowflow.git.mirror import Mirror, in_cone
from stowflow.git.runner import run_git
from stowflow.transfer.materialise import TreeBuilder

_FILE, _EXEC, _LINK, _GITLINK = 0o100644, 0o100755, 0o120000, 0o160000


#: git's id of the empty blob (empty files are created, not cached)
EMPTY_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


class TreeEntry(NamedTuple):
    """One entry of ``git ls-tree -r``: mode, object id, path (a tuple: a pull makes one
    per file, and a frozen dataclass costs twice as much to build)."""

    mode: int
    oid: str
    path: str


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


def build(builder: TreeBuilder, mirror: Mirror, commit_sha: str,
          directories: Sequence[str]) -> None:
    """Lay ``commit_sha`` out in ``builder``'s tree and write its ``.git/index``.

    The tree's ``.git`` must exist (it borrows the mirror's objects). Cached files are
    hard-linked; the rest — files the cache lacks, symlinks — are written by one
    ``git checkout-index`` (parallel workers, C speed, straight from the packs, their stat
    data into the index), then adopted into the cache by hard link, so no file is written
    twice. Empty files are created writable (they share nothing). Files outside the
    sparse cone of ``directories`` get no file and the skip-worktree bit; gitlinks
    (submodules) get an empty folder.
    """
    entries = list_tree(mirror, commit_sha)
    wanted = [e for e in entries if in_cone(e.path, directories)]
    builder.make_dirs([e.path for e in wanted])
    cache = builder.cache
    try:  # a blob whose shard folder is missing is not cached: no stamp, no stat to say so
        shards = frozenset(os.listdir(cache.root / "objects"))
    except FileNotFoundError:
        shards = frozenset()
    # the wanted exec bit's stamps in one query (the other bit's entry, rarely there, is
    # read on its own by find)
    cache.load_stamps(f"{e.oid}.x" if e.mode == _EXEC else e.oid
                      for e in wanted if e.oid[:2] in shards)
    write: list[TreeEntry] = []  # written by git (and the cacheable ones adopted)
    first: dict[str, TreeEntry] = {}  # each blob the cache lacks is written once …
    again: list[TreeEntry] = []  # … and its other paths are linked to the cache after
    index: list[IndexEntry] = []
    in_tree = {e.path for e in wanted} if directories else None
    root = builder.root
    root_str = os.fspath(root)
    for entry in entries:
        mode, oid, path = entry.mode, entry.oid, entry.path
        if in_tree is not None and path not in in_tree:
            index.append(IndexEntry(path, mode, oid, skip_worktree=True))
            continue
        executable = mode == _EXEC
        if mode == _GITLINK:
            (root / path).mkdir(exist_ok=True)
            index.append(IndexEntry(path, mode, oid))
            continue
        if mode == _LINK:
            write.append(entry)  # symlink targets are not cached
            continue
        if oid == EMPTY_BLOB:
            builder.empty(path, executable)  # writable, as git makes it
            index.append(IndexEntry(path, mode, oid, os.lstat(f"{root_str}/{path}")))
            continue
        if oid in first:
            again.append(entry)  # the same content at another path: linked once cached
            continue
        source = cache.find(oid, None, executable=executable) if oid[:2] in shards else None
        if source is None:
            first[oid] = entry
            write.append(entry)
            continue
        # the builder links (and stamps again) or makes the other exec bit's copy; the
        # file's stat is then the entry's (one inode; git ignores the ctime the link moved)
        st = builder.link_cached(path, oid, executable, source)
        index.append(IndexEntry(path, mode, oid, st or os.lstat(f"{root_str}/{path}")))
    index_path = root / ".git" / "index"
    # the files git writes enter the index with no stat data; checkout-index -u fills it
    index += [IndexEntry(e.path, e.mode, e.oid) for e in (*write, *again)]
    write_index(index_path, index)
    if write:
        _checkout(root, mirror, [e.path for e in write])
        _adopt(builder, list(first.values()))
    if again:
        for entry in again:
            builder.link_cached(entry.path, entry.oid, entry.mode == _EXEC)
        # their stat data into the index (git reads only these few files)
        run_git(["update-index", "-z", "--stdin"], cwd=root, env=mirror.env.local(),
                input="\0".join(e.path for e in again).encode() + b"\0",
                action=f"index update from the cache of {mirror.url}")


def _checkout(root: Path, mirror: Mirror, paths: Sequence[str]) -> None:
    """Have git write ``paths`` of the index into the tree (from the mirror's objects) and
    record their stat data in the index."""
    # umask 222: the files come out read-only (0444, 0555 with the exec bit), as the cache
    # keeps them, with no chmod per file
    run_git(["-c", "checkout.workers=0", "checkout-index", "-u", "-z", "--stdin"], cwd=root,
            env=mirror.env.local(), input="\0".join(paths).encode() + b"\0", umask=0o222,
            action=f"checkout from the cache of {mirror.url}")
    os.chmod(root / ".git" / "index", 0o644)  # git made it under the umask too


def _adopt(builder: TreeBuilder, entries: Sequence[TreeEntry]) -> None:
    """Add the read-only files git just wrote to the content cache under their blob ids
    (each entry a different blob), stamping each new entry."""
    root = os.fspath(builder.root)
    objects = os.fspath(builder.cache.root / "objects")
    for entry in entries:
        path = f"{root}/{entry.path}"
        name = f"{entry.oid}.x" if entry.mode == _EXEC else entry.oid
        final = f"{objects}/{entry.oid[:2]}/{name}"
        try:
            try:
                os.link(path, final)
            except FileNotFoundError:  # the shard's first entry
                os.makedirs(f"{objects}/{entry.oid[:2]}", exist_ok=True)
                os.link(path, final)
        except FileExistsError:  # cached already (a concurrent pull): keep that one,
            continue  # and hash it before its first use here
        except OSError:  # another filesystem, or the link limit: the cache copies it
            builder.cache.adopt(Path(path), entry.oid, entry.mode == _EXEC)
            continue
        builder.cache.restamp(name, os.stat(final))
