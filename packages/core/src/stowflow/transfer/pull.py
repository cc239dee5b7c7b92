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
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from filelock import FileLock

from stowflow.errors import IntegrityError, StorageError, StorageNotFoundError
from stowflow.transfer import layout as keys
from stowflow.transfer.cache import ContentCache, hash_file
from stowflow.transfer.manifest import FileEntry, Manifest
from stowflow.transfer.materialise import build_tree, swap_in
from stowflow.transfer.packing import SMALL_FILE_LIMIT, Read, Wanted, plan_reads
from stowflow.transfer.parallel import run_parallel
from stowflow.transfer.paths import check_tree, dir_prefix, normalize_prefix, safe_relpath
from stowflow.transfer.progress import ProgressCallback, Reporter
from stowflow.transfer.refs import load_manifest, read_head
from stowflow.transfer.retry import retrying
from stowflow.transfer.store import ObjectStore

#: How often a pull of the latest version starts over when a push moved HEAD under it.
RESTARTS = 8
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
    """Fetches missing content into the cache, verifying every byte, counting requests."""

    def __init__(self, store: ObjectStore, cache: ContentCache, reporter: Reporter) -> None:
        self.store, self.cache, self.reporter = store, cache, reporter
        self.requests = self.bytes = 0

    def _count(self, nbytes: int) -> None:
        with self.reporter._lock:
            self.requests += 1
            self.bytes += nbytes

    def _verify(self, data: bytes, sha: str, key: str, what: str) -> None:
        if hashlib.sha256(data).hexdigest() != sha:
            raise IntegrityError(f"{self.store.name}/{key}: bytes of {what} do not match "
                                 f"sha256 {sha[:12]}…", hint="the store was changed; pull again")

    def read_pack(self, prefix: str, read: Read) -> None:
        """Fetch one planned pack read and cache each piece it carries."""
        key = keys.pack_key(prefix, read.pack)
        data = self.store.get_bytes(key, read.byte_range)
        if len(data) != read.end - read.start:
            raise IntegrityError(f"{self.store.name}/{key}: expected {read.end - read.start} "
                                 f"bytes, got {len(data)}", hint="the store was changed; pull again")
        self._count(len(data))
        for piece in read.wanted:
            chunk = data[piece.offset - read.start: piece.offset - read.start + piece.size]
            self._verify(chunk, piece.sha256, key, f"content {piece.sha256[:12]}")
            self.cache.add_bytes(chunk, piece.sha256)
            self.reporter.advance(0, piece.size)

    def fetch_whole(self, key: str, sha: str | None, size: int | None, what: str) -> tuple[str, int]:
        """Fetch the object at ``key`` into the cache; verify ``sha`` when it is known.

        Returns the content's (sha256, size).
        """
        if size is not None and size < SMALL_FILE_LIMIT:
            data = self.store.get_bytes(key)
            actual = hashlib.sha256(data).hexdigest()
            if sha is not None:
                self._verify(data, sha, key, what)
            self.cache.add_bytes(data, actual)
            nbytes = len(data)
        else:
            tmp = self.cache.temp_path()
            try:
                self.store.get_to_path(key, tmp)
                actual = hash_file(tmp)
                if sha is not None and actual != sha:
                    raise IntegrityError(f"{self.store.name}/{key}: bytes of {what} do not match "
                                         f"sha256 {sha[:12]}…", hint="the store was changed; pull again")
                nbytes = tmp.stat().st_size
                self.cache.add_file(tmp, actual)
            finally:
                tmp.unlink(missing_ok=True)
        self._count(nbytes)
        self.reporter.advance(0, nbytes)
        return actual, nbytes


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
    store = retrying(store)
    cache = ContentCache()
    reporter = Reporter("pull", progress)
    with FileLock(str(cache.lock_path(str(target)))):
        if not replace:
            _check_replaceable(target, cache)
        for attempt in range(RESTARTS):
            resolved = version or read_head(store, prefix)
            if resolved is None:
                return _pull_foreign(store, prefix, target, cache, reporter)
            doc = load_manifest(store, prefix, resolved, cache)
            try:
                return _pull_version(store, prefix, resolved, doc, target, cache, reporter)
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
    fetcher = _Fetcher(store, cache, reporter)
    was_cached: dict[str, bool] = {}
    by_pack: dict[str, list[Wanted]] = {}
    tasks: list[Callable[[], object]] = []
    for entry in doc.files:
        if entry.size == 0 or entry.sha256 in was_cached:
            continue
        was_cached[entry.sha256] = cache.lookup(entry.sha256, entry.size) is not None
        if was_cached[entry.sha256]:
            reporter.advance(0, entry.size)
        elif entry.location == "pack":
            by_pack.setdefault(entry.pack or "", []).append(
                Wanted(entry.sha256, entry.offset, entry.size))
        else:
            key = (keys.object_key(prefix, entry.sha256) if entry.location == "object"
                   else keys.file_key(prefix, entry.path))
            tasks.append(partial(fetcher.fetch_whole, key, entry.sha256, entry.size,
                                 f"'{entry.path}'"))
    for pack, wanted in by_pack.items():
        for read in plan_reads(pack, doc.packs[pack], wanted):
            tasks.append(partial(fetcher.read_pack, prefix, read))
    run_parallel(store, tasks, "stowflow-pull")
    _finish(dest, doc.files, cache, version)
    reporter.advance(len(doc.files), 0)
    cached = sum(1 for e in doc.files if e.size and was_cached[e.sha256])
    return PullResult(dest, version, len(doc.files), fetcher.requests, fetcher.bytes, cached)


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
    fetcher = _Fetcher(store, cache, reporter)
    shas: dict[str, tuple[str, int]] = {}
    tasks: list[Callable[[], object]] = []
    cached = 0
    for rel, key, size, etag in found:
        known = index.get(key)
        if (etag and isinstance(known, list) and known[:2] == [size, etag]
                and cache.lookup(known[2], size) is not None):
            shas[rel] = (known[2], size)
            cached += 1
            reporter.advance(0, size)
            continue

        tasks.append(partial(_fetch_into, shas, fetcher, rel, key, size))
    run_parallel(store, tasks, "stowflow-pull")
    entries = [FileEntry(rel, shas[rel][1], shas[rel][0], False, "file") for rel, *_ in found]
    _finish(dest, entries, cache, None)
    cache.write_json("foreign", index_key, {
        key: [size, etag, shas[rel][0]] for rel, key, size, etag in found if etag})
    reporter.advance(len(entries), 0)
    return PullResult(dest, None, len(entries), fetcher.requests, fetcher.bytes, cached)


def _fetch_into(shas: dict[str, tuple[str, int]], fetcher: _Fetcher, rel: str, key: str,
                size: int) -> None:
    shas[rel] = fetcher.fetch_whole(key, None, size, f"'{rel}'")


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


def _finish(dest: Path, entries: tuple[FileEntry, ...] | list[FileEntry], cache: ContentCache,
            version: str | None) -> None:
    """Build the tree from the cache and swap it into ``dest``; record what is there."""
    missing = [e.path for e in entries if e.size and cache.lookup(e.sha256, e.size) is None]
    if missing:
        raise StorageError(f"cache lost content of {missing[0]!r} during the pull",
                           hint="another process pruned the cache; pull again")
    new = build_tree(dest, entries, cache)
    swap_in(new, dest)
    cache.write_json("records", str(dest), {"dest": str(dest), "version": version})
