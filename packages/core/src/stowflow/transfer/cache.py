"""The node-local content-addressed cache shared by every pull on the machine.

Layout under ``<STOWFLOW_HOME>/cache/transfer/``::

    objects/<sha[:2]>/<sha>      verified file content, read-only (0444), named by its
                                 sha256 (64 hex; object-store pulls) or git blob id (40
                                 hex; git checkouts, whose bytes git already checked)
    objects/<sha[:2]>/<sha>.x    the same content with exec bits (0555), made on demand
    manifests/<id>.json          manifests by version id (immutable, verified on read)
    manifests/<id>.parsed        the same manifest parsed and validated, as ``marshal``
                                 data behind its sha256 (a warm pull skips the JSON)
    records/<digest>.json        which version a pull last put in a destination
    foreign/<digest>.json        key → (size, etag, sha256) of foreign folders' objects
    locks/<digest>.lock          one lock per destination folder
    tmp/                         downloads in progress (same filesystem, so renames are atomic)
    stamps.sqlite                each entry's (inode, size, mtime_ns, ctime_ns) when last
                                 seen intact (:mod:`stowflow.transfer.stamps`)

Safe for concurrent processes without a global lock: content is written to a unique temp
file, verified, then moved into place with :func:`os.replace`; two processes adding the
same object both write identical bytes. Cached files are read-only because pulls hardlink
them into destinations — a file edited in place in a pulled tree would otherwise corrupt
the cache; exec bits live in a separate ``.x`` copy for the same reason. Root ignores the
read-only bit, so an entry is trusted only while its stat equals its stamp; any other entry
is hashed before it is linked, and evicted (then fetched again) when its bytes changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import marshal
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stowflow.settings import get_settings
from stowflow.transfer.manifest import FileEntry, Manifest, version_id
from stowflow.transfer.stamps import Stamp, StampBook, stamp_of
from stowflow.transfer.stamps import set_id as stamps_set_id

READ_ONLY = 0o444
READ_EXEC = 0o555
#: The first line of a ``.parsed`` manifest: its format, and the interpreter's marshal
#: version (another Python may not read it; then the JSON is parsed again).
_PARSED_TAG = (f"stowflow parsed manifest 1 py{sys.version_info[0]}.{sys.version_info[1]} "
               f"marshal {marshal.version}\n").encode()


def digest_text(text: str) -> str:
    """Return a short stable digest of ``text`` for file names (destinations, store names)."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def hash_file(path: str | os.PathLike[str]) -> str:
    """Return the sha256 of the file at ``path``, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def hash_git_blob(path: str | os.PathLike[str]) -> str:
    """Return git's blob id of the file at ``path`` (SHA-1 of ``blob <size>\\0`` + bytes)."""
    with open(path, "rb") as fh:
        h = hashlib.sha1(f"blob {os.fstat(fh.fileno()).st_size}\0".encode())
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def content_key(path: str | os.PathLike[str], key: str) -> str:
    """Return the key the cached file at ``path`` must be named ``key`` by: its git blob id
    for a 40-character key (git checkouts), else its sha256 (object-store pulls)."""
    return hash_git_blob(path) if len(key) == 40 else hash_file(path)


@dataclass
class VerifyReport:
    """What :meth:`ContentCache.verify` found: entries checked, their bytes, the damaged
    entries (and how many pulled trees still link each one), and whether they were removed."""

    checked: int = 0
    checked_bytes: int = 0
    damaged: list[tuple[Path, int]] = field(default_factory=list)
    removed: bool = False


class ContentCache:
    """The content-addressed cache under ``root`` (default: ``settings.cache_dir/transfer``)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else get_settings().cache_dir / "transfer"
        self.tmp_dir = self.root / "tmp"
        for sub in ("objects", "manifests", "records", "foreign", "locks", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.stamps = StampBook(self.root / "stamps.sqlite")
        self._known: dict[str, Stamp] = {}
        self._asked: set[str] = set()  # names whose stamps were read (found or not)
        # names whose stamps came from a stamp set only, and the set: on the first
        # mismatch every other stamp recorded for them is read (:meth:`_others`)
        self._from_set: tuple[str, list[str]] | None = None
        self._more: dict[str, set[Stamp]] = {}
        self._objects = os.fspath(self.root / "objects")

    # --- content -----------------------------------------------------------------------

    def object_path(self, sha: str, executable: bool = False) -> Path:
        """Return where the content ``sha`` is (or would be) cached."""
        return Path(self.entry_path(sha, executable))

    def entry_path(self, sha: str, executable: bool = False) -> str:
        """:meth:`object_path` as a string (a pull's per-file loop: no ``Path`` per file)."""
        return f"{self._objects}/{sha[:2]}/{sha}.x" if executable else \
            f"{self._objects}/{sha[:2]}/{sha}"

    @staticmethod
    def entry_name(sha: str, executable: bool = False) -> str:
        """Return the file name of content ``sha``'s entry (``<sha>`` or ``<sha>.x``): the
        key of its stamp."""
        return f"{sha}.x" if executable else sha

    def load_stamps(self, names: Iterable[str]) -> None:
        """Read the stamps of the entries ``names`` (see :meth:`entry_name`) for
        :meth:`find`: their stamp set's row when an earlier pull of the same entries wrote
        one (one row), else every stamp recorded for them (the per-entry rows and the
        other sets). A stamp it needs beyond them is read on its own. Stamps taken after
        this go to that set."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return
        self._asked.update(wanted)
        found = self.stamps.read_set(wanted)
        if found is None:  # a new list (a new version): every stamp recorded for them
            for name, stamps in self.stamps.read_all(wanted).items():
                self._more.setdefault(name, set()).update(stamps)
            return
        self._known.update(found)
        if self._from_set is None:
            self._from_set = (stamps_set_id(wanted), wanted)

    def _others(self, name: str) -> set[Stamp]:
        """Every other stamp recorded for ``name`` (per-entry rows, other sets), read for
        all the names of the loaded set at once, the first time one is asked for."""
        if self._from_set is not None:
            key, names = self._from_set
            self._from_set = None
            self._more = self.stamps.read_all(names, skip=key)
        return self._more.get(name, set())

    def _stamp(self, name: str) -> Stamp | None:
        stamp = self._known.get(name)
        if stamp is None and name not in self._asked:
            self._asked.add(name)
            stamp = self.stamps.read([name]).get(name)
            if stamp is not None:
                self._known[name] = stamp
        return stamp

    def lookup(self, sha: str, size: int, *, verify: bool = False) -> Path | None:
        """Return an intact cached file of ``sha`` (either mode), else ``None``
        (:meth:`find` as a ``Path``)."""
        found = self.find(sha, size, verify=verify)
        return Path(found) if found is not None else None

    def find(self, sha: str, size: int | None, *, executable: bool = False,
             verify: bool = False) -> str | None:
        """Return the path of an intact cached file of ``sha`` (of ``size`` bytes, when
        the caller knows it), else ``None``.

        The entry with the ``executable`` mode is tried first, then the other one. An entry
        whose stat equals its stamp (loaded by :meth:`load_stamps`, or read now) is trusted; any other —
        edited in place, touched, never stamped — or every one with ``verify``, is hashed:
        intact, it is stamped again; damaged, it is evicted (the pull fetches the content
        again). One ``stat`` per entry tried.
        """
        for exe in (executable, not executable):
            name = f"{sha}.x" if exe else sha
            path = f"{self._objects}/{sha[:2]}/{name}"
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            if size is not None and st.st_size != size:
                continue
            if not verify:
                now = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                if self._stamp(name) == now or now in self._others(name):
                    return path
            if content_key(path, sha) != sha:
                self._evict(Path(path))
                continue
            self.restamp(name, st)
            return path
        return None

    def restamp(self, name: str, st: os.stat_result) -> None:
        """Record entry ``name``'s new stat, just taken after stowflow linked it (a link
        moves the ctime): for :meth:`find` later in this pull and in the stamps file."""
        self._known[name] = stamp = stamp_of(st)
        self.stamps.put(name, stamp)

    def release_tree(self, tree: str | os.PathLike[str]) -> None:
        """Delete ``tree`` (a folder pulled from this cache) and keep the stamps of the
        intact entries its files link.

        Unlinking a file that shares its inode with a cache entry moves the entry's ctime,
        so without this the next pull would hash every entry a deleted workspace linked.
        A file whose stat, taken right before its unlink, equals its entry's stamp is
        intact (the stamp says so; the unlink writes no byte), so the entry is stamped
        again right after the unlink; any other file is just removed and its entry hashed
        at its next use, as before. One walk of the tree (files and folders are removed
        by it, deepest first). Errors never stop the removal.
        """
        top = os.fspath(tree)
        if os.path.islink(top):  # never a pulled tree; never delete what it points to
            return
        shared: dict[str, int] = {}  # files sharing an inode with others -> inode
        others: list[str] = []
        folders: list[str] = []
        try:
            self._walk(top, shared, others, folders)
        except OSError:
            shutil.rmtree(top, ignore_errors=True)
            return
        if shared:
            with contextlib.suppress(Exception):  # stamps only save work
                self._release_links(shared)
        for path in others:
            with contextlib.suppress(OSError):
                os.unlink(path)
        for folder in reversed(folders):  # children were listed after their parents
            with contextlib.suppress(OSError):
                os.rmdir(folder)
        if os.path.lexists(top):  # something was left (a file added meanwhile, an error)
            shutil.rmtree(top, ignore_errors=True)

    @staticmethod
    def _walk(top: str, shared: dict[str, int], others: list[str],
              folders: list[str]) -> None:
        """List the tree under ``top``: regular files with other links (and their inode),
        every other entry, and the folders (parents first)."""
        pending = [top]
        while pending:
            folder = pending.pop()
            folders.append(folder)
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                        shared[entry.path] = st.st_ino
                    else:
                        others.append(entry.path)

    def _release_links(self, inodes: dict[str, int]) -> None:
        """Unlink the files ``inodes`` names (path -> inode; files sharing an inode with
        others), stamping again each entry whose stamp still held just before."""
        known = self.stamps.by_inode(inodes.values())
        for path, ino in inodes.items():
            try:
                st = os.lstat(path)
            except OSError:
                continue
            now = stamp_of(st)
            name = next((n for n, stamp in known.get(ino, ()) if stamp == now), None)
            with contextlib.suppress(OSError):
                os.unlink(path)
            if name is None:
                continue
            try:
                after = os.stat(f"{self._objects}/{name[:2]}/{name}")
            except OSError:
                continue
            if (after.st_ino, after.st_size, after.st_mtime_ns) == now[:3]:
                stamp = stamp_of(after)
                known[ino] = [(name, stamp)]  # another path of the same inode compares to it
                self.restamp(name, after)
        self.stamps.flush()

    def _evict(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._known.pop(path.name, None)
        self.stamps.forget([path.name])

    def verify(self, *, repair: bool = False) -> VerifyReport:
        """Hash every content entry against its name; with ``repair`` remove damaged ones.

        Intact entries are stamped again. A removed entry is fetched again by the next pull
        that needs it; trees pulled earlier keep their (damaged) link to it.
        """
        report = VerifyReport(removed=repair)
        for path in sorted((self.root / "objects").glob("*/*")):
            sha = path.name.removesuffix(".x")
            try:
                st = path.stat()
                actual = content_key(path, sha)
            except FileNotFoundError:
                continue
            report.checked += 1
            report.checked_bytes += st.st_size
            if actual == sha:
                self.stamps.note(path)
                continue
            report.damaged.append((path, st.st_nlink - 1))
            if repair:
                self._evict(path)
        self.stamps.flush()
        return report

    def temp_path(self, suffix: str = "") -> Path:
        """Return a fresh, unique temp file path inside the cache (same filesystem)."""
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, suffix=suffix)
        os.close(fd)
        return Path(name)

    def adopt(self, path: Path, sha: str, executable: bool) -> None:
        """Add the verified, read-only file at ``path`` to the cache (a hardlink, or a copy
        when the cache is on another filesystem). An entry already there is kept."""
        final = self.object_path(sha, executable)
        if final.exists():
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, final)
        except FileExistsError:
            return
        except OSError:
            self._copy_in(path, final, executable)
        self.stamps.note(final)

    def source_for(self, sha: str, executable: bool) -> Path:
        """Return the cached file to link for content ``sha`` with the wanted exec bit.

        The other mode's copy is made on first use (a copy, not a link: a link shares the
        mode). Raises ``FileNotFoundError`` if neither is cached.
        """
        target = self.object_path(sha, executable)
        if not target.exists():
            self._copy_in(self.object_path(sha, not executable), target, executable)
            self.stamps.note(target)
        return target

    def _copy_in(self, source: Path, target: Path, executable: bool) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.temp_path()
        try:
            shutil.copyfile(source, tmp)
            os.chmod(tmp, READ_EXEC if executable else READ_ONLY)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def prune(self, max_bytes: int, *, stale_after: float = 86400.0) -> tuple[int, int]:
        """Shrink the content store to at most ``max_bytes``; return (files removed, bytes).

        Entries that no pulled tree links to (link count 1) go first, least recently
        modified first; entries still linked into trees go only if that is not enough
        (the trees keep their files — a later pull just fetches them again). Temp files
        older than ``stale_after`` seconds (left by killed processes) are removed too.
        """
        now = time.time()
        for tmp in self.tmp_dir.iterdir():
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime > stale_after:
                    tmp.unlink()
        entries = []
        for path in (self.root / "objects").glob("*/*"):
            with contextlib.suppress(OSError):
                st = path.stat()
                entries.append((st.st_nlink > 1, st.st_mtime, st.st_size, path))
        total = sum(size for _, _, size, _ in entries)
        removed = freed = 0
        gone = []
        for _, _, size, path in sorted(entries, key=lambda e: (e[0], e[1])):
            if total <= max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                gone.append(path.name)
                removed += 1
                freed += size
                total -= size
        self.stamps.forget(gone)
        return removed, freed

    # --- manifests, records, foreign indexes --------------------------------------------

    def manifest(self, version: str) -> bytes | None:
        """Return the cached bytes of manifest ``version`` (verified), or ``None``."""
        path = self.root / "manifests" / f"{version}.json"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return data if version_id(data) == version else None

    def save_manifest(self, version: str, data: bytes) -> None:
        """Cache verified manifest bytes under their version id."""
        self._write_atomic(self.root / "manifests" / f"{version}.json", data)

    def parsed_manifest(self, version: str) -> Manifest | None:
        """Return manifest ``version`` as :meth:`save_parsed_manifest` kept it, else ``None``.

        The file holds the sha256 of the version id and the ``marshal`` data; anything
        else — torn, changed, written by another Python, or another version's — is
        ignored (the caller parses the JSON again). It is trusted as the stamps are: it
        stops corruption, not someone who may rewrite the cache (who could rewrite the
        stamps and the entries too).
        """
        try:
            data = (self.root / "manifests" / f"{version}.parsed").read_bytes()
        except OSError:
            return None
        tag = len(_PARSED_TAG)
        payload = data[tag + 32:]
        if (data[:tag] != _PARSED_TAG
                or hashlib.sha256(version.encode() + payload).digest() != data[tag:tag + 32]):
            return None
        try:
            kept, files, packs, layout, created, parent = marshal.loads(payload)
            if kept != version:
                return None
            return Manifest(tuple(map(FileEntry._make, files)), packs, layout, created, parent)
        except (ValueError, TypeError, EOFError):
            return None

    def save_parsed_manifest(self, version: str, doc: Manifest) -> None:
        """Keep ``doc`` — manifest ``version``, parsed and validated — for
        :meth:`parsed_manifest` (about 5x faster to load than parsing the JSON)."""
        payload = marshal.dumps((version, [tuple(e) for e in doc.files], doc.packs,
                                 doc.layout, doc.created, doc.parent))
        digest = hashlib.sha256(version.encode() + payload).digest()
        self._write_atomic(self.root / "manifests" / f"{version}.parsed",
                           _PARSED_TAG + digest + payload)

    def read_json(self, kind: str, key: str) -> dict[str, Any]:
        """Return the JSON document ``kind/<digest(key)>.json`` or ``{}``."""
        try:
            data = json.loads((self.root / kind / f"{digest_text(key)}.json").read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_json(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        """Atomically write the JSON document ``kind/<digest(key)>.json``."""
        self._write_atomic(self.root / kind / f"{digest_text(key)}.json",
                           json.dumps(doc).encode())

    def lock_path(self, key: str) -> Path:
        """Return the lock file that serialises work on ``key`` (e.g. a destination)."""
        return self.root / "locks" / f"{digest_text(key)}.lock"

    def _write_atomic(self, path: Path, data: bytes) -> None:
        tmp = self.temp_path()
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
