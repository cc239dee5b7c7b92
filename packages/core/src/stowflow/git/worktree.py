"""Laying a commit's files out from the content cache by hard links, as object-store pulls do.

The files of a pulled commit live in the sync engine's content-addressed cache
(:class:`~stowflow.transfer.cache.ContentCache`, read-only entries), named by their git
blob id: git has already checked every blob it fetched, and ``ls-tree`` names each file's
blob, so a checkout needs no hash of its own. A new work tree is made by
:class:`~stowflow.transfer.materialise.TreeBuilder` in two steps:

- :func:`lay_out` — one folder per folder, one hard link per file already cached (the
  stat data of each into the index to be written); it reads only the mirror's trees, so
  it may run before the host has said which commit a ref names (a pull lays out the
  commit it last fetched while ``ls-remote`` runs), and :func:`retarget` then moves the
  layout to another commit by touching only the paths the two commits differ in;
- :func:`finish` — the index, then the files the cache lacks written by one
  ``git checkout-index`` from the mirror's packs (parallel workers), which also records
  their stat data in the index, then hard-linked into the cache (no second write, no
  read).

So a first pull costs about what ``git clone`` costs, a warm pull into a new folder writes
no file content, and a new commit writes only the files it changed.

Cached files share inodes with every tree they are linked into, so a file edited in place
(root ignores the read-only bit) edits its cache entry too. A cache entry is linked only
when its stat equals its stamp in the cache's stamps file (inode, size, mtime_ns and
ctime_ns, which nobody can set back; :mod:`stowflow.transfer.stamps`), the same rule as
object-store pulls; any other entry is hashed again (as a git blob) before it is linked,
and evicted if its bytes changed. Each link moves the entry's ctime, so it is stamped
again right after.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from stowflow.git.index import IndexEntry, write_index
from stowflow.git.mirror import Mirror, in_cone
from stowflow.git.runner import run_git
from stowflow.transfer.materialise import TreeBuilder, folders_of
from stowflow.transfer.stamps import stamp_of

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


class Layout:
    """A commit laid out (or being laid out) in a :class:`TreeBuilder`'s tree.

    ``entries`` holds every path of the commit; ``index`` the index entries known so far
    (linked and empty files with their stat data, gitlinks, skip-worktree paths);
    ``missing`` the paths :func:`finish` has git write (blobs the cache lacks, symlinks).
    """

    def __init__(self, builder: TreeBuilder, commit: str, directories: Sequence[str]) -> None:
        self.builder = builder
        self.commit = commit
        self.directories = list(directories)
        self.entries: dict[str, TreeEntry] = {}
        self.index: dict[str, IndexEntry] = {}
        self.missing: dict[str, TreeEntry] = {}
        #: each cache entry linked -> its stat after its last link here (its stamp)
        self.linked: dict[str, os.stat_result] = {}

    def wanted(self, path: str) -> bool:
        """True when ``path`` gets a file in this tree (inside the sparse cone, if any)."""
        return not self.directories or in_cone(path, self.directories)


def lay_out(builder: TreeBuilder, mirror: Mirror, commit_sha: str,
            directories: Sequence[str]) -> Layout:
    """Lay ``commit_sha`` out in ``builder``'s tree from the cache; return the layout.

    Makes every folder, hard-links every file the cache holds intact, creates empty files
    (writable: they share nothing) and an empty folder per gitlink (submodule). Files
    outside the sparse cone of ``directories`` get no file and the skip-worktree bit.
    Reads only the mirror's trees (no blob, no ref, no network); the tree's ``.git`` is
    not needed until :func:`finish`.
    """
    layout = Layout(builder, commit_sha, directories)
    entries = list_tree(mirror, commit_sha)
    layout.entries = {e.path: e for e in entries}
    _place(layout, entries)
    return layout


def retarget(layout: Layout, mirror: Mirror, commit_sha: str) -> None:
    """Move ``layout`` (not yet finished) to ``commit_sha``: remove the files and folders
    of the paths that differ, then place the new ones; every other file stays as laid out.
    """
    if commit_sha == layout.commit:
        return
    old = layout.entries
    new = {e.path: e for e in list_tree(mirror, commit_sha)}
    root = os.fspath(layout.builder.root)
    wanted = layout.wanted
    for path, entry in old.items():
        if new.get(path) == entry:
            continue
        layout.index.pop(path, None)
        if layout.missing.pop(path, None) is not None or not wanted(path):
            continue  # never written (git writes it in finish), or outside the cone
        if entry.mode == _GITLINK:
            os.rmdir(f"{root}/{path}")
        else:
            _unlink(layout, entry, f"{root}/{path}")
    stale = folders_of(p for p in old if wanted(p)) - folders_of(p for p in new if wanted(p))
    for folder in sorted(stale, reverse=True):  # a child sorts after its parent
        os.rmdir(f"{root}/{folder}")
    layout.entries = new
    layout.commit = commit_sha
    # the few new paths' entries are looked up one by one (no stamp set of their own)
    _place(layout, [e for path, e in new.items() if old.get(path) != e], load=False)
    # The next pull lays this commit out first: give it this commit's stamp set (one row
    # to read) by registering the set and stamping the linked entries into it again.
    cache = layout.builder.cache
    cache.stamps.read_set(_stamp_names(e for path, e in new.items() if wanted(path)))
    for name, st in layout.linked.items():
        cache.restamp(name, st)


def _unlink(layout: Layout, entry: TreeEntry, path: str) -> None:
    """Remove the file at ``path``; if it links a cache entry that nobody touched since our
    last link (its stat still equals the one taken then), keep that entry's stamp true by
    taking it again after the unlink (which moves the ctime but writes no byte)."""
    executable = entry.mode == _EXEC
    name = f"{entry.oid}.x" if executable else entry.oid
    linked = layout.linked.pop(name, None)
    before = os.lstat(path)
    os.unlink(path)
    if linked is None or stamp_of(before) != stamp_of(linked):
        return
    with contextlib.suppress(OSError):
        after = os.stat(layout.builder.cache.entry_path(entry.oid, executable))
        if (after.st_ino, after.st_size, after.st_mtime_ns) == \
                (before.st_ino, before.st_size, before.st_mtime_ns):
            layout.linked[name] = after


def _stamp_names(entries: Iterable[TreeEntry]) -> list[str]:
    """Return the cache entry names of ``entries`` (``<blob id>[.x]``), each once, in tree
    order: the stamp set a layout of the same commit reads again."""
    return list(dict.fromkeys(f"{e.oid}.x" if e.mode == _EXEC else e.oid for e in entries))


def _place(layout: Layout, entries: Sequence[TreeEntry], *, load: bool = True) -> None:
    """Put ``entries`` (paths not in the tree yet) into ``layout``'s tree and index;
    ``load`` reads their stamps first as one set (see :func:`_stamp_names`)."""
    builder, index, missing = layout.builder, layout.index, layout.missing
    if layout.directories:
        wanted = [e for e in entries if layout.wanted(e.path)]
        for entry in entries:
            if not layout.wanted(entry.path):
                index[entry.path] = IndexEntry(entry.path, entry.mode, entry.oid,
                                               skip_worktree=True)
    else:
        wanted = list(entries)
    builder.make_dirs([e.path for e in wanted])
    cache = builder.cache
    try:  # a blob whose shard folder is missing is not cached: no stamp, no stat to say so
        shards = frozenset(os.listdir(cache.root / "objects"))
    except FileNotFoundError:
        shards = frozenset()
    if load and shards:
        # the wanted exec bit's stamps in one set (the other bit's entry, rarely there, is
        # read on its own by find); not filtered by shard, so a commit's set is the same
        # whichever entries the cache holds
        cache.load_stamps(_stamp_names(wanted))
    root = builder.root
    root_str = os.fspath(root)
    for entry in wanted:
        mode, oid, path = entry
        executable = mode == _EXEC
        if mode == _GITLINK:
            (root / path).mkdir(exist_ok=True)
            index[path] = IndexEntry(path, mode, oid)
        elif mode == _LINK:
            missing[path] = entry  # symlink targets are not cached: git writes them
        elif oid == EMPTY_BLOB:
            builder.empty(path, executable)  # writable, as git makes it
            index[path] = IndexEntry(path, mode, oid, os.lstat(f"{root_str}/{path}"))
        else:
            source = cache.find(oid, None, executable=executable) \
                if oid[:2] in shards else None
            if source is None:
                missing[path] = entry
                continue
            # the builder links (and stamps again) or makes the other exec bit's copy; the
            # file's stat is then the entry's (one inode; git ignores the ctime the link
            # moved)
            st = builder.link_cached(path, oid, executable, source)
            if st is None:  # copied (another filesystem)
                st = os.lstat(f"{root_str}/{path}")
            else:
                layout.linked[f"{oid}.x" if executable else oid] = st
            index[path] = IndexEntry(path, mode, oid, st)


def finish(layout: Layout, mirror: Mirror) -> None:
    """Write the tree's ``.git/index`` and have git write the files the cache lacked.

    The tree's ``.git`` must exist (it borrows the mirror's objects). Each blob the cache
    lacks is written once by one ``git checkout-index`` (C speed, straight from the packs,
    its stat data into the index) and adopted into the cache by hard link; its other
    paths, if any, are linked to that entry afterwards.
    """
    builder = layout.builder
    write: list[TreeEntry] = []  # written by git (and the cacheable ones adopted)
    first: dict[str, TreeEntry] = {}  # each blob the cache lacks is written once …
    again: list[TreeEntry] = []  # … and its other paths are linked to the cache after
    for entry in layout.missing.values():
        if entry.mode == _LINK:
            write.append(entry)
        elif entry.oid in first:
            again.append(entry)
        else:
            first[entry.oid] = entry
            write.append(entry)
    root = builder.root
    # the files git writes enter the index with no stat data; checkout-index -u fills it
    write_index(root / ".git" / "index",
                [*layout.index.values(),
                 *(IndexEntry(e.path, e.mode, e.oid) for e in layout.missing.values())])
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
