"""Building a pulled tree next to its destination and swapping it in atomically.

:class:`TreeBuilder` makes a sibling folder of the destination (same filesystem, so the
final rename is atomic) and fills it: cached content as hardlinks to the cache (copies
where links are impossible), fetched content written straight into place once verified
and then hardlinked into the cache — one file creation per new file, as a plain copy
would need. :meth:`TreeBuilder.commit` swaps it in: the old destination is renamed aside,
the new one renamed in, and the old one deleted in the background (on slow disks folder
deletion costs more than the pull). Before the swap nothing in ``dest`` changes; a
failure removes the sibling and leaves ``dest`` exactly as it was.

Files with content are read-only (they share inodes with the cache); empty files are not.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from stowflow.errors import StorageError
from stowflow.transfer.cache import READ_EXEC, READ_ONLY, ContentCache

_reapers: list[threading.Thread] = []
_reapers_lock = threading.Lock()


def _read_only(executable: bool) -> int:
    return READ_EXEC if executable else READ_ONLY


class TreeBuilder:
    """Builds the tree a pull produces in a sibling folder of ``dest``."""

    def __init__(self, dest: Path, cache: ContentCache) -> None:
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            sweep(dest)
            root = tempfile.mkdtemp(prefix=f".{dest.name}.stowflow-new-", dir=dest.parent)
        except OSError as exc:  # the destination's folder is missing, read-only or a file
            raise StorageError(
                f"cannot pull into '{dest}': cannot write in '{dest.parent}' "
                f"({exc.strerror or exc})",
                hint="pull into a folder you can write to",
            ) from exc
        self.dest, self.cache = dest, cache
        self.root = Path(root)
        self._root = root
        os.chmod(self.root, 0o755)  # mkdtemp makes 0700; the tree is for the user's tools too
        self._parts = itertools.count()
        # For :meth:`fingerprint`: each file placed -> the cache entry it links (whose last
        # stat, taken after our last link to it, is the file's), or None: stat it then.
        self._files: dict[str, str | None] = {}
        self._entry_stats: dict[str, os.stat_result] = {}

    def make_dirs(self, paths: Iterable[str]) -> None:
        """Create every folder the files at ``paths`` need (one ``mkdir`` per folder)."""
        root = os.fspath(self.root)
        for folder in sorted(folders_of(paths)):  # a parent sorts before its children
            with contextlib.suppress(FileExistsError):
                os.mkdir(f"{root}/{folder}")

    def empty(self, relpath: str, executable: bool) -> None:
        """Create an empty file (writable: it shares nothing with the cache)."""
        fd = os.open(f"{self._root}/{relpath}", os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o755 if executable else 0o644)
        os.close(fd)
        self._files[relpath] = None

    def link_cached(self, relpath: str, sha: str, executable: bool,
                    source: str | None = None) -> os.stat_result | None:
        """Place cached content ``sha`` at ``relpath`` (hardlink, or copy as a fallback).

        ``source`` is the intact entry :meth:`ContentCache.find` returned (either mode);
        without it, or in the other mode, the cache provides the entry to link. Returns
        the placed file's stat when it is a link (the entry's, taken after linking), else
        ``None``.
        """
        if source is None or source.endswith(".x") != executable:
            source = os.fspath(self.cache.source_for(sha, executable))
        target = f"{self._root}/{relpath}"
        try:
            os.link(source, target)
        except OSError:  # another filesystem, or the link limit
            shutil.copyfile(source, target)
            os.chmod(target, 0o755 if executable else 0o644)
            self._files[relpath] = None
            return None
        # the link moved the entry's ctime: stamp it again (a stat right after the link)
        name = f"{sha}.x" if executable else sha
        st = os.stat(source)
        self.cache.restamp(name, st)
        self._entry_stats[name] = st
        self._files[relpath] = name
        return st

    def write(self, relpath: str, data: bytes, sha: str, executable: bool) -> None:
        """Write verified ``data`` at ``relpath`` and add it to the cache."""
        target = self.root / relpath
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _read_only(executable))
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        self.cache.adopt(target, sha, executable)
        self._files[relpath] = None

    def part_path(self) -> Path:
        """Return a fresh path inside the tree for a download in progress."""
        return self.root / f".stowflow-part-{next(self._parts)}"

    def place(self, part: Path, relpath: str, sha: str, executable: bool) -> None:
        """Move a verified download to ``relpath`` and add it to the cache."""
        os.chmod(part, _read_only(executable))
        target = self.root / relpath
        os.rename(part, target)
        self.cache.adopt(target, sha, executable)
        self._files[relpath] = None

    def commit(self) -> None:
        """Swap the tree into ``dest`` atomically (see :func:`swap_in`); stamp the cache
        entries written or linked."""
        try:
            swap_in(self.root, self.dest)
        finally:
            self.cache.stamps.flush()

    def abort(self) -> None:
        """Remove the unfinished tree; ``dest`` is untouched."""
        remove_tree(self.root, self.cache)
        with contextlib.suppress(Exception):  # stamps only save work; never mask the failure
            self.cache.stamps.flush()

    def fingerprint(self) -> str | None:
        """Return :func:`fingerprint` of ``dest`` after :meth:`commit`, from the stats taken
        while building: one ``lstat`` only per file not linked from the cache.

        Valid when every file of the tree was placed through this builder. A stat that went
        stale meanwhile (another process linked or unlinked a shared entry) only makes the
        next re-pull into ``dest`` take its checked path.
        """
        dest = os.fspath(self.dest)
        stats = self._entry_stats
        try:
            return _digest([(rel, stats[name] if name is not None else os.lstat(f"{dest}/{rel}"))
                            for rel, name in self._files.items()])
        except OSError:  # a file is gone already: the next re-pull takes its checked path
            return None


def folders_of(paths: Iterable[str]) -> set[str]:
    """Return every folder that files at relative ``paths`` sit in (parents included)."""
    folders: set[str] = set()
    for path in paths:
        folder = path.rpartition("/")[0]
        while folder and folder not in folders:
            folders.add(folder)
            folder = folder.rpartition("/")[0]
    return folders


def swap_in(new: Path, dest: Path) -> None:
    """Replace ``dest`` with the folder ``new`` (both in the same parent) atomically.

    Raises ``StorageError`` if ``dest`` is a file or a symlink. On failure ``dest`` is
    restored and ``new`` removed. The replaced tree is deleted in the background.
    """
    try:
        if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
            raise StorageError(f"cannot pull into '{dest}': it exists and is not a folder")
        if not dest.exists():
            os.rename(new, dest)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.stowflow-old-", dir=dest.parent))
        os.rmdir(old)  # only the unique name is wanted
        os.rename(dest, old)
        try:
            os.rename(new, dest)
        except BaseException:
            os.rename(old, dest)
            raise
    except BaseException:
        remove_tree(new)
        raise
    _reap(old)


def _reap(path: Path) -> None:
    thread = threading.Thread(target=remove_tree, args=(path,), name=f"stowflow-reap:{path}")
    with _reapers_lock:
        _reapers[:] = [t for t in _reapers if t.is_alive()]
        _reapers.append(thread)
    thread.start()  # not a daemon: the interpreter waits for it at exit


def wait_for_cleanup(timeout: float | None = None) -> None:
    """Wait until replaced trees have been deleted (benchmarks and tests)."""
    with _reapers_lock:
        threads = list(_reapers)
    for thread in threads:
        thread.join(timeout)


def sweep(dest: Path) -> None:
    """Delete, in the background, trees left next to ``dest`` by pulls that were killed.

    The caller holds the destination's lock, so no live pull is building one of them; a
    replaced tree still being deleted by a reaper is harmlessly deleted twice.
    """
    with _reapers_lock:
        busy = {t.name for t in _reapers if t.is_alive()}
    with contextlib.suppress(OSError):
        for entry in dest.parent.iterdir():
            if (entry.name.startswith((f".{dest.name}.stowflow-new-",
                                       f".{dest.name}.stowflow-old-"))
                    and f"stowflow-reap:{entry}" not in busy):
                _reap(entry)


def remove_tree(path: Path, cache: ContentCache | None = None) -> None:
    """Delete a folder made by a pull, read-only cache links included; ignore errors.

    The stamps of the intact cache entries it linked are kept
    (:meth:`ContentCache.release_tree`), so the next pull does not hash them again.
    """
    try:
        (cache or ContentCache()).release_tree(path)
    except Exception:  # the cache folder unusable: remove the tree all the same
        shutil.rmtree(path, ignore_errors=True)


def fingerprint(dest: Path) -> str | None:
    """Return a digest of every entry under ``dest``: path, inode, size, mtime, ctime, mode.

    Unchanged trees keep their fingerprint; an added, removed, replaced or edited file
    changes it (an edit whose mtime was set back too: ctime cannot be; linking or deleting
    another tree that shares an inode changes it as well). ``None`` when ``dest`` is not a
    folder. Files and symlinks count, folders do not (as :meth:`TreeBuilder.fingerprint`).
    """
    if not dest.is_dir() or dest.is_symlink():
        return None
    found: list[tuple[str, os.stat_result]] = []
    top = os.fspath(dest)
    for folder, dirnames, filenames in os.walk(top):
        rel = os.path.relpath(folder, top)
        prefix = "" if rel == "." else f"{rel}/"
        for name in filenames + [d for d in dirnames if os.path.islink(f"{folder}/{d}")]:
            try:
                found.append((prefix + name, os.lstat(f"{folder}/{name}")))
            except OSError:
                return None
    return _digest(found)


def _digest(entries: Iterable[tuple[str, os.stat_result]]) -> str:
    """Hash (relative path, lstat) pairs in path order: the fingerprint's one format."""
    text = "".join([f"{rel}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0"
                    f"{st.st_mode}\n" for rel, st in sorted(entries, key=_first)])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _first(item: tuple[str, os.stat_result]) -> str:
    return item[0]
