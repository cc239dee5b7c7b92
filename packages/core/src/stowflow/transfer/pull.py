"""Pull: bring a version (or a foreign folder) into a destination, atomically.

Resolve ``HEAD`` (or the pinned version) — one request — and read its manifest from the
local cache when it is there. Content already in the content-addressed cache costs
nothing; the rest is fetched in parallel (a whole pack when most of it is needed, merged
byte ranges otherwise), each piece verified against its sha256 before it enters the cache.
Then a new tree is built from the cache and swapped into ``dest``. Until that swap,
nothing in ``dest`` changes; a failure anywhere leaves it exactly as it was.

A prefix without ``HEAD`` is a foreign folder: it is listed once, every key is validated
before anything is written, and the objects are fetched in parallel (objects seen before
with the same size and etag come from the cache).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from filelock import FileLock

from stowflow.errors import IntegrityError, StorageError, StorageNotFoundError
from stowflow.transfer import layout as keys
from stowflow.transfer.cache import ContentCache, hash_file
from stowflow.transfer.diskspace import check_room, disk_full_cause, disk_full_error
from stowflow.transfer.manifest import EMPTY_SHA256, FileEntry, Manifest
from stowflow.transfer.materialise import TreeBuilder, fingerprint
from stowflow.transfer.packing import SMALL_FILE_LIMIT, Read, Wanted, plan_reads
from stowflow.transfer.parallel import run_parallel
from stowflow.transfer.paths import check_tree, dir_prefix, normalize_prefix, safe_relpath
from stowflow.transfer.progress import ProgressCallback, Reporter
from stowflow.transfer.refs import load_manifest, read_head
from stowflow.transfer.retry import call_with_retry, retrying
from stowflow.transfer.store import ObjectStore

log = logging.getLogger(__name__)

#: How often a pull of the latest version starts over when a push moved HEAD under it.
RESTARTS = 8
#: How many large objects (above the pack limit) are downloaded at once.
LARGE_AT_ONCE = 4
#: How long a plain-layout pull waits for a push that is rewriting files to move HEAD.
HEAD_WAIT_SECONDS = 30.0


@dataclass
class PullResult:
    """What a pull did.

    ``directory`` holds the tree; ``version`` is the version id pulled (``None`` for a
    foreign folder); ``files`` counts its files; ``fetched_objects`` and
    ``bytes_received`` count content requests; ``cached_files`` counts files whose bytes
    came from the local cache.
    """

    directory: Path
    version: str | None
    files: int = 0
    fetched_objects: int = 0
    bytes_received: int = 0
    cached_files: int = 0


class _Fetcher:
    """Fetches missing content straight into the new tree, verifying every byte first."""

    def __init__(self, store: ObjectStore, builder: TreeBuilder, reporter: Reporter) -> None:
        self.store, self.builder, self.reporter = store, builder, reporter
        self._lock = threading.Lock()
        # A store downloads a large object with parallel ranges of its own; a few at a time
        # keep the connection pool busy without holding many objects' buffers in memory.
        self._large = threading.BoundedSemaphore(max(1, min(LARGE_AT_ONCE, store.max_concurrency)))
        self.requests = self.bytes = 0

    def _count(self, nbytes: int) -> None:
        with self._lock:
            self.requests += 1
            self.bytes += nbytes

    def _count_bytes(self, nbytes: int) -> None:
        with self._lock:
            self.bytes += nbytes

    def _mismatch(self, key: str, what: str, sha: str) -> IntegrityError:
        return IntegrityError(f"{self.store.name}/{key}: bytes of {what} do not match "
                              f"sha256 {sha[:12]}...", hint="the store was changed; pull again")

    def read_pack(self, prefix: str, read: Read, targets: dict[str, FileEntry]) -> None:
        """Fetch one planned pack read, streaming each piece it carries to its file.

        Only one piece is in memory at a time. A stream that breaks midway is reopened
        (with backoff) for the pieces not yet written.
        """
        key = keys.pack_key(prefix, read.pack)
        remaining = sorted(read.wanted, key=lambda w: w.offset)

        def consume() -> None:
            whole = read.whole and len(remaining) == len(read.wanted)  # first attempt
            position = 0 if whole else remaining[0].offset
            with self.store.get(key, None if whole else (position, read.end)) as stream:
                self._count(0)
                while remaining:
                    piece = remaining[0]
                    _skip(stream, piece.offset - position, self.store.name, key)
                    chunk = _read_exact(stream, piece.size, self.store.name, key)
                    if hashlib.sha256(chunk).hexdigest() != piece.sha256:
                        raise self._mismatch(key, f"content {piece.sha256[:12]}", piece.sha256)
                    entry = targets[piece.sha256]
                    self.builder.write(entry.path, chunk, piece.sha256, entry.executable)
                    self._count_bytes(piece.offset + piece.size - position)
                    position = piece.offset + piece.size
                    self.reporter.advance(0, piece.size)
                    remaining.pop(0)
                if whole:  # drain the tail so the connection can be reused
                    while tail := stream.read(1024 * 1024):
                        self._count_bytes(len(tail))

        call_with_retry(consume)

    def fetch_file(self, key: str, relpath: str, size: int, executable: bool,
                   sha: str | None) -> str:
        """Fetch the object at ``key`` to ``relpath``; verify ``sha`` when it is known.

        Small objects are read into memory, large ones streamed to a part file. Returns
        the content's sha256.
        """
        if size < SMALL_FILE_LIMIT:
            data = self.store.get_bytes(key)
            actual = hashlib.sha256(data).hexdigest()
            if sha is not None and actual != sha:
                raise self._mismatch(key, f"'{relpath}'", sha)
            self.builder.write(relpath, data, actual, executable)
            nbytes = len(data)
        else:
            part = self.builder.part_path()
            with self._large:
                self.store.get_to_path(key, part)
            actual = hash_file(part)
            if sha is not None and actual != sha:
                raise self._mismatch(key, f"'{relpath}'", sha)
            nbytes = part.stat().st_size
            self.builder.place(part, relpath, actual, executable)
        self._count(nbytes)
        self.reporter.advance(0, nbytes)
        return actual


def _read_exact(stream: BinaryIO, size: int, store: str, key: str) -> bytes:
    """Read exactly ``size`` bytes (streams may return less per call)."""
    parts: list[bytes] = []
    left = size
    while left:
        chunk = stream.read(min(left, 1024 * 1024))
        if not chunk:
            raise IntegrityError(f"{store}/{key}: the object ended {left} bytes early",
                                 hint="the store was changed; pull again")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _skip(stream: BinaryIO, size: int, store: str, key: str) -> None:
    """Read and drop ``size`` bytes (a small gap between two wanted pieces)."""
    while size > 0:
        size -= len(_read_exact(stream, min(size, 1024 * 1024), store, key))


def default_dest(store: ObjectStore, prefix: str) -> Path:
    """Return where a pull without ``dest`` goes: ``cwd/<last prefix part or bucket>``."""
    name = normalize_prefix(prefix).rsplit("/", 1)[-1]
    if not name:
        name = store.name.split("://", 1)[-1].strip("/").rsplit("/", 1)[-1] or "stowflow-pull"
    return Path.cwd() / name


def pull(store: ObjectStore, prefix: str, dest: str | Path | None = None, *,
         version: str | None = None, progress: ProgressCallback | None = None,
         replace: bool = False) -> PullResult:
    """Pull ``version`` (default: ``HEAD``) of ``prefix`` into ``dest``; return a PullResult.

    Called by ``stowflow storage pull``, the pull steps and ``RemoteStorage.pull``. Atomic:
    on any failure ``dest`` is exactly as it was. ``dest`` is replaced as a whole, so it
    must be missing, empty, or a folder an earlier pull on this machine made — anything
    else (someone's own folder) is refused unless ``replace`` is true. Pulls into the same
    destination are serialised across processes; into different ones they run concurrently.
    """
    prefix = normalize_prefix(prefix)
    target = Path(dest) if dest is not None else default_dest(store, prefix)
    target = target.absolute()
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise StorageError(f"cannot pull into '{target}': it exists and is not a folder")
    store = retrying(store)
    cache = ContentCache()
    reporter = Reporter("pull", progress)
    with FileLock(str(cache.lock_path(str(target)))):
        if not replace:
            _check_replaceable(target, cache)
        for attempt in range(RESTARTS):
            resolved = version or read_head(store, prefix)
            if resolved is None:
                result = _pull_foreign(store, prefix, target, cache, reporter)
                log.info("pulled folder %s/%s (not written by stowflow) into %s: %d files, "
                         "%d fetched", store.name, prefix, target, result.files,
                         result.fetched_objects)
                return result
            doc = load_manifest(store, prefix, resolved, cache)
            try:
                result = _pull_version(store, prefix, resolved, doc, target, cache, reporter)
                log.info("pulled %s/%s version %s into %s: %d files, %d fetched (%d bytes), "
                         "%d from cache", store.name, prefix, resolved, target, result.files,
                         result.fetched_objects, result.bytes_received, result.cached_files)
                return result
            except IntegrityError:
                # A plain-layout push rewrites files in place before it moves HEAD: wait
                # for that push to commit, then start over on its version.
                plain = any(e.location == "file" for e in doc.files)
                if version is not None or not plain or attempt == RESTARTS - 1:
                    raise
                if not _wait_for_new_head(store, prefix, resolved):
                    raise
    raise AssertionError("unreachable")  # pragma: no cover


def _check_replaceable(dest: Path, cache: ContentCache) -> None:
    """Refuse to replace a non-empty folder that no pull on this machine produced."""
    if not dest.is_dir() or dest.is_symlink():
        return  # missing (fine) or not a folder (swap_in refuses it with a clear error)
    if cache.read_json("records", str(dest)).get("dest") == str(dest):
        return
    if next(dest.iterdir(), None) is None:
        return
    raise StorageError(
        f"refusing to replace '{dest}': it holds files that no stowflow pull put there",
        hint="pull into a new or empty folder, or pass replace=True (--replace) to overwrite it",
    )


def _wait_for_new_head(store: ObjectStore, prefix: str, old: str,
                       timeout: float = HEAD_WAIT_SECONDS) -> bool:
    """Poll ``HEAD`` with backoff until it names something other than ``old``."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if read_head(store, prefix) != old:
            return True
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
    return read_head(store, prefix) != old


def _pull_version(store: ObjectStore, prefix: str, version: str, doc: Manifest, dest: Path,
                  cache: ContentCache, reporter: Reporter) -> PullResult:
    reporter.start(len(doc.files), doc.total_bytes)
    paths = [e.path for e in doc.files]
    record = cache.read_json("records", str(dest))
    # Pulled files share inodes with the cache. The fingerprint has every file's ctime, so
    # any change to the tree since our last pull (an edit with its mtime restored too)
    # means the full path below, where each reused cache entry is checked by its stamp.
    untouched = bool(record.get("fingerprint")) and record["fingerprint"] == fingerprint(dest)
    if untouched and record.get("version") == version:
        reporter.advance(len(paths), doc.total_bytes)
        return PullResult(dest, version, len(paths), 0, 0, sum(1 for e in doc.files if e.size))
    builder = TreeBuilder(dest, cache)
    try:
        name = cache.entry_name
        builder.make_dirs(paths)
        cache.load_stamps(name(e.sha256, e.executable) for e in doc.files if e.size)
        fetcher = _Fetcher(store, builder, reporter)
        targets: dict[str, FileEntry] = {}  # content to fetch -> the first file that wants it
        later: list[FileEntry] = []  # more files with content being fetched
        by_pack: dict[str, list[Wanted]] = {}
        tasks: list[Callable[[], object]] = []
        cached = cached_bytes = 0
        find, link = cache.find, builder.link_cached  # the per-file loop: no Path per file
        for entry in doc.files:
            sha = entry.sha256
            if entry.size == 0:
                builder.empty(entry.path, entry.executable)
            elif sha in targets:
                later.append(entry)
            elif (source := find(sha, entry.size, executable=entry.executable)) is not None:
                link(entry.path, sha, entry.executable, source)
                cached += 1
                cached_bytes += entry.size
            else:
                targets[sha] = entry
                if entry.location == "pack":
                    by_pack.setdefault(entry.pack or "", []).append(
                        Wanted(sha, entry.offset, entry.size))
                else:
                    key = (keys.object_key(prefix, sha) if entry.location == "object"
                           else keys.file_key(prefix, entry.path))
                    tasks.append(partial(fetcher.fetch_file, key, entry.path, entry.size,
                                         entry.executable, sha))
        reporter.advance(0, cached_bytes)
        for pack, wanted in by_pack.items():
            for read in plan_reads(pack, doc.packs[pack], wanted):
                tasks.append(partial(fetcher.read_pack, prefix, read, targets))
        needed = sum(entry.size for entry in targets.values())
        check_room(dest, cache.root, needed)
        run_parallel(store, tasks, "stowflow-pull")
        for entry in later:
            builder.link_cached(entry.path, entry.sha256, entry.executable)
        builder.commit()
        digest = builder.fingerprint()
    except BaseException as exc:
        builder.abort()
        _raise_if_disk_full(exc, dest, cache, sum(e.size for e in doc.files))
        raise
    _record(cache, dest, version, digest)
    reporter.advance(len(paths), 0)
    return PullResult(dest, version, len(paths), fetcher.requests, fetcher.bytes, cached)


def _pull_foreign(store: ObjectStore, prefix: str, dest: Path, cache: ContentCache,
                  reporter: Reporter) -> PullResult:
    base = dir_prefix(prefix)
    found: list[tuple[str, str, int, str | None]] = []  # (relpath, key, size, etag)
    for info in store.list(base):
        rel = info.key[len(base):]
        if not info.key.startswith(base) or not rel or rel.endswith("/"):
            continue  # folder markers (``a/b/``) are not files
        if keys.is_meta_relpath(rel):
            continue
        safe_relpath(rel, where=f"{store.name}/{info.key}")
        found.append((rel, info.key, info.size, info.etag))
    found = _drop_folder_markers(found)
    if not found:
        raise StorageNotFoundError(f"{store.name}: nothing at '{base or '/'}'",
                                   hint="check the URL; the prefix is empty or missing")
    check_tree([rel for rel, *_ in found], where=f"{store.name}/{base}")
    reporter.start(len(found), sum(size for _, _, size, _ in found))
    index_key = f"{store.name}\0{prefix}"
    index = cache.read_json("foreign", index_key)
    builder = TreeBuilder(dest, cache)
    shas: dict[str, str] = {}
    try:
        builder.make_dirs(rel for rel, *_ in found)
        fetcher = _Fetcher(store, builder, reporter)
        tasks: list[Callable[[], object]] = []
        cached = needed = 0
        # the index is a file in the user's cache folder: only a well-formed digest is
        # ever turned into a cache path (a tampered one must not name a file elsewhere)
        index = {key: known for key, known in index.items()
                 if isinstance(known, list) and len(known) == 3
                 and isinstance(known[2], str) and keys.is_sha256(known[2])}
        cache.load_stamps(known[2] for known in index.values())
        for rel, key, size, etag in found:
            known = index.get(key)
            if size == 0:
                builder.empty(rel, False)
                shas[rel] = EMPTY_SHA256
            elif (etag and isinstance(known, list) and known[:2] == [size, etag]
                    and (source := cache.find(known[2], size)) is not None):
                builder.link_cached(rel, known[2], False, source)
                shas[rel] = known[2]
                cached += 1
                reporter.advance(0, size)
            else:
                tasks.append(partial(_fetch_into, shas, fetcher, rel, key, size))
                needed += size
        check_room(dest, cache.root, needed)
        run_parallel(store, tasks, "stowflow-pull")
        builder.commit()
        digest = builder.fingerprint()
    except BaseException as exc:
        builder.abort()
        _raise_if_disk_full(exc, dest, cache, sum(size for _, _, size, _ in found))
        raise
    _record(cache, dest, None, digest)
    cache.write_json("foreign", index_key, {
        key: [size, etag, shas[rel]] for rel, key, size, etag in found if etag})
    reporter.advance(len(found), 0)
    return PullResult(dest, None, len(found), fetcher.requests, fetcher.bytes, cached)


def _raise_if_disk_full(exc: BaseException, dest: Path, cache: ContentCache,
                        needed: int) -> None:
    """Raise the DiskFullError naming the disks when ``exc`` is (or hides) an ENOSPC."""
    cause = disk_full_cause(exc)
    if cause is not None:
        raise disk_full_error(cause, dest, cache.root, needed) from exc


def _fetch_into(shas: dict[str, str], fetcher: _Fetcher, rel: str, key: str, size: int) -> None:
    shas[rel] = fetcher.fetch_file(key, rel, size, False, None)


def _drop_folder_markers(found: list[tuple[str, str, int, str | None]],
                         ) -> list[tuple[str, str, int, str | None]]:
    """Drop empty objects named like a folder of other keys (markers some tools write
    without the trailing ``/``)."""
    folders = set()
    for rel, *_ in found:
        while "/" in rel:
            rel = rel.rsplit("/", 1)[0]
            folders.add(rel)
    return [item for item in found if not (item[2] == 0 and item[0] in folders)]


def _record(cache: ContentCache, dest: Path, version: str | None,
            digest: str | None) -> None:
    """Remember what this pull put in ``dest`` and its fingerprint then (so an unchanged
    re-pull can skip the work)."""
    cache.write_json("records", str(dest), {
        "dest": str(dest), "version": version, "fingerprint": digest})
