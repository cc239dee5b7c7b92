"""Push: upload a folder as a new version under a prefix.

One walk of the tree, one hash per file, one listing of what the store already holds,
then only the missing content is uploaded in parallel — new small files as a few packs,
large files as their own objects (or, in the plain layout, each changed file at its
path). The manifest goes up next and ``HEAD`` last, so readers see the old version or
the new one, never a mix. Pushing an unchanged tree uploads nothing and keeps the version.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from stowflow.errors import StorageError, StorageNotFoundError
from stowflow.transfer import layout as keys
from stowflow.transfer import manifest as mf
from stowflow.transfer.cache import ContentCache
from stowflow.transfer.diskspace import disk_full_cause, push_disk_full_error
from stowflow.transfer.ignore import walk
from stowflow.transfer.leases import PushLease, push_lease
from stowflow.transfer.packing import (
    SMALL_FILE_LIMIT,
    PackItem,
    build_pack,
    pack_target,
    plan_packs,
)
from stowflow.transfer.parallel import run_parallel
from stowflow.transfer.paths import dir_prefix, normalize_prefix
from stowflow.transfer.progress import ProgressCallback, Reporter
from stowflow.transfer.refs import load_manifest, read_head, save_manifest, write_head
from stowflow.transfer.retry import retrying
from stowflow.transfer.scan import HashedFile, hash_files
from stowflow.transfer.store import ObjectInfo, ObjectStore

log = logging.getLogger(__name__)

LAYOUTS = ("packed", "files")
#: Repack when the reused packs outnumber the ideal count by this factor (plus slack).
REPACK_FACTOR = 2
REPACK_SLACK = 8
#: Bytes of packs a push may hold in memory at once.
PACK_MEMORY_BUDGET = 64 * 1024 * 1024


@dataclass
class PushResult:
    """What a push did.

    ``version`` is the version id now at ``HEAD`` (``None`` for a dry run); ``files`` and
    ``total_bytes`` describe the pushed tree; ``uploaded_objects`` and ``bytes_sent`` count
    content uploads (packs, objects, plain files — not the manifest or ``HEAD``);
    ``skipped`` counts files whose bytes the store already held; ``paths`` lists the
    files (filled on a dry run); ``changed`` says whether a new version was written.
    """

    version: str | None
    files: int
    uploaded_objects: int = 0
    bytes_sent: int = 0
    skipped: int = 0
    total_bytes: int = 0
    paths: list[str] = field(default_factory=list)
    changed: bool = False


class _Uploads:
    """The store, progress and counts that the upload threads share."""

    def __init__(self, store: ObjectStore, reporter: Reporter) -> None:
        self.store, self.reporter = store, reporter
        self.objects = self.bytes = 0
        self.planned = 0  # bytes the plan uploads (for a full disk's message)
        self._lock = threading.Lock()

    def count(self, nbytes: int) -> None:
        """Count one uploaded object of ``nbytes``."""
        with self._lock:
            self.objects += 1
            self.bytes += nbytes


def push(source_dir: str | Path, store: ObjectStore, prefix: str, *, layout: str = "packed",
         ignore_file: str | None = ".stowflowignore", dry_run: bool = False,
         progress: ProgressCallback | None = None) -> PushResult:
    """Upload ``source_dir`` to ``prefix`` in ``store`` as a new version; return a PushResult.

    Called by ``stowflow storage push``, the push steps and ``RemoteStorage``. Files
    matched by the built-in ignore rules or ``ignore_file`` are left out. ``dry_run``
    returns the file list and total size without touching the store.
    """
    if layout not in LAYOUTS:
        raise StorageError(f"unknown layout {layout!r}", hint="use 'packed' or 'files'")
    prefix = normalize_prefix(prefix)
    sources = walk(Path(source_dir), ignore_file)
    total = sum(f.size for f in sources)
    if dry_run:
        return PushResult(version=None, files=len(sources), total_bytes=total,
                          paths=[f.relpath for f in sources])
    hashed = hash_files(sources)
    store = retrying(store)
    for attempt in (1, 2):
        uploads = _Uploads(store, Reporter("push", progress))
        try:
            return _push_once(Path(source_dir), hashed, prefix, layout, uploads, total)
        except _VanishedObjects as exc:
            if attempt == 2:
                raise StorageError(
                    f"{store.name}: objects under '{prefix}' kept disappearing during the push "
                    f"({exc.missing[0]} and {len(exc.missing) - 1} more)",
                    hint="is something deleting from this prefix (gc --force, a lifecycle "
                    "rule)? push again once it has stopped",
                ) from None
            log.warning("%s: %d reused objects vanished during the push (a concurrent gc?); "
                        "pushing again", store.name, len(exc.missing))
        except BaseException as exc:
            cause = disk_full_cause(exc)
            if cause is None:
                raise
            where = f"{store.name}/{prefix}" if prefix else store.name
            raise push_disk_full_error(cause, where, Path(source_dir),
                                       uploads.planned or total, uploads.bytes) from exc
    raise AssertionError("unreachable")


class _VanishedObjects(Exception):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"{len(missing)} objects vanished")
        self.missing = missing


def _push_once(source_dir: Path, hashed: list[HashedFile], prefix: str, layout: str,
               uploads: _Uploads, total: int) -> PushResult:
    store = uploads.store
    uploads.reporter.start(len(hashed), total)
    cache = ContentCache()
    head = read_head(store, prefix)
    previous = None
    if head is not None:
        try:
            previous = load_manifest(store, prefix, head, cache)
        except StorageNotFoundError:
            previous = None  # a dangling HEAD: this push repairs it
    # A push that will write a new version holds a lease (taken after any gc in progress
    # has finished), so no gc deletes what it reuses (see leases.py). An unchanged tree
    # reuses only what HEAD references, which gc always keeps.
    lease: contextlib.AbstractContextManager[PushLease | None] = (
        contextlib.nullcontext() if _same_files(hashed, previous) else push_lease(store, prefix))
    with lease as held:
        listing_prefix = keys.meta_prefix(prefix) if layout == "packed" else dir_prefix(prefix)
        listing = (held.list_store(listing_prefix) if held is not None
                   else {info.key: info for info in store.list(listing_prefix)})
        if layout == "packed":
            entries, packs, skipped = _push_packed(hashed, prefix, previous, listing, uploads)
        else:
            entries, skipped = _push_files(hashed, prefix, previous, listing, uploads)
            packs = {}
        doc = mf.build(entries, layout=layout, parent=head, packs=packs)
        result = PushResult(version=head, files=len(hashed), uploaded_objects=uploads.objects,
                            bytes_sent=uploads.bytes, skipped=skipped, total_bytes=total)
        if doc.same_content(previous) and uploads.objects == 0:
            log.info("pushed %s to %s/%s: unchanged, still version %s", source_dir, store.name,
                     prefix, head)
            return result
        renewed = held is not None and held.renew_if_old()
        if layout == "packed" and (skipped or renewed):
            _check_reused_objects(store, prefix, doc)
        result.version = save_manifest(store, prefix, doc, cache)
        write_head(store, prefix, result.version)
    result.changed = True
    log.info("pushed %s to %s/%s as version %s: %d files, %d objects uploaded (%d bytes), "
             "%d already there", source_dir, store.name, prefix, result.version, result.files,
             result.uploaded_objects, result.bytes_sent, result.skipped)
    if previous is not None and layout == "files":
        _delete_stale_mirror(store, prefix, previous, doc)
    return result


def _same_files(hashed: list[HashedFile], previous: mf.Manifest | None) -> bool:
    """Whether the tree holds exactly the files (paths, bytes, modes) of ``previous``."""
    if previous is None:
        return False
    now = sorted((h.relpath, h.sha256, h.source.executable) for h in hashed)
    before = sorted((e.path, e.sha256, e.executable) for e in previous.files)
    return now == before


def _check_reused_objects(store: ObjectStore, prefix: str, doc: mf.Manifest) -> None:
    """Raise _VanishedObjects when a pack or object the new version reuses is gone."""
    needed = {keys.pack_key(prefix, p) for p in doc.packs}
    needed |= {keys.object_key(prefix, e.sha256) for e in doc.files if e.location == "object"}
    present = {info.key for info in store.list(keys.meta_prefix(prefix))}
    missing = sorted(needed - present)
    if missing:
        raise _VanishedObjects(missing)


@dataclass
class _PackedPlan:
    """What a packed push writes: entries decided so far and what is still to upload."""

    entries: list[mf.FileEntry] = field(default_factory=list)
    packs: dict[str, int] = field(default_factory=dict)  # pack id -> size, for the manifest
    new_small: dict[str, PackItem] = field(default_factory=dict)  # sha -> item, to pack
    new_large: dict[str, HashedFile] = field(default_factory=dict)  # sha -> file, own object
    pending: list[HashedFile] = field(default_factory=list)  # files placed once uploaded
    skipped: int = 0


def _push_packed(hashed: list[HashedFile], prefix: str, previous: mf.Manifest | None,
                 listing: dict[str, ObjectInfo], up: _Uploads,
                 ) -> tuple[list[mf.FileEntry], dict[str, int], int]:
    known = _reusable(hashed, prefix, previous, listing, up.store.max_concurrency)
    plan = _plan_packed(hashed, prefix, previous, known, listing, up)
    up.planned = (sum(i.size for i in plan.new_small.values())
                  + sum(h.source.size for h in plan.new_large.values()))
    placed = _upload_new(plan, prefix, listing, up)
    for h in plan.pending:
        if h.source.size < SMALL_FILE_LIMIT:
            pack, offset = placed[h.sha256]
            plan.entries.append(mf.FileEntry(h.relpath, h.source.size, h.sha256,
                                             h.source.executable, "pack", pack, offset))
    return plan.entries, plan.packs, plan.skipped


def _reusable(hashed: list[HashedFile], prefix: str, previous: mf.Manifest | None,
              listing: dict[str, ObjectInfo], concurrency: int) -> dict[str, mf.FileEntry]:
    """Return ``{sha256: entry}`` of the previous version's packed or whole objects that the
    store still lists (packs only when reusing them would not fragment the version)."""
    known: dict[str, mf.FileEntry] = {}
    if previous is not None:
        for entry in previous.files:
            key = (keys.pack_key(prefix, entry.pack or "") if entry.location == "pack"
                   else keys.object_key(prefix, entry.sha256))
            if entry.location in ("pack", "object") and key in listing:
                known.setdefault(entry.sha256, entry)
    if _fragmented(hashed, known, concurrency):
        # Many versions of small changes leave the files spread over many small packs, and
        # a cold pull pays a request per pack: put every small file in fresh packs again.
        known = {sha: e for sha, e in known.items() if e.location != "pack"}
    return known


def _plan_packed(hashed: list[HashedFile], prefix: str, previous: mf.Manifest | None,
                 known: dict[str, mf.FileEntry], listing: dict[str, ObjectInfo],
                 up: _Uploads) -> _PackedPlan:
    """Sort each file: empty, reused, a large object to upload, or a small file to pack."""
    plan = _PackedPlan()
    for h in hashed:
        src = h.source
        if src.size == 0:
            plan.entries.append(mf.FileEntry(src.relpath, 0, mf.EMPTY_SHA256, src.executable,
                                             "empty"))
            up.reporter.advance(1, 0)
        elif h.sha256 in known:
            old = known[h.sha256]
            plan.entries.append(mf.FileEntry(src.relpath, src.size, h.sha256, src.executable,
                                             old.location, old.pack, old.offset))
            if old.pack:
                plan.packs[old.pack] = previous.packs[old.pack]  # type: ignore[union-attr]
            plan.skipped += 1
            up.reporter.advance(1, src.size)
        elif src.size >= SMALL_FILE_LIMIT:
            plan.entries.append(mf.FileEntry(src.relpath, src.size, h.sha256, src.executable,
                                             "object"))
            if keys.object_key(prefix, h.sha256) in listing:
                plan.skipped += 1
                up.reporter.advance(1, src.size)
            else:
                plan.new_large.setdefault(h.sha256, h)
                plan.pending.append(h)
        else:
            plan.new_small.setdefault(h.sha256, PackItem(h.sha256, src.size, src.path))
            plan.pending.append(h)
    return plan


def _upload_new(plan: _PackedPlan, prefix: str, listing: dict[str, ObjectInfo],
                up: _Uploads) -> dict[str, tuple[str, int]]:
    """Upload the new packs and large objects in parallel; return ``{sha256: (pack, offset)}``
    for every packed file (the plan's ``packs`` gain the new packs)."""
    target = pack_target(sum(i.size for i in plan.new_small.values()), up.store.max_concurrency)
    groups = plan_packs(list(plan.new_small.values()), target)
    placed: dict[str, tuple[str, int]] = {}
    # Packs are built in memory: bound how many exist at once, whatever the concurrency.
    in_memory = threading.BoundedSemaphore(max(2, PACK_MEMORY_BUDGET // target))

    def upload_pack(group: list[PackItem]) -> None:
        with in_memory:
            blob, sha, offsets = build_pack(group)
            key = keys.pack_key(prefix, sha)
            if key not in listing:
                up.store.put(key, blob)
                up.count(len(blob))
        plan.packs[sha] = len(blob)
        for item_sha, offset in offsets.items():
            placed[item_sha] = (sha, offset)
        up.reporter.advance(len(group), len(blob))

    def upload_object(h: HashedFile) -> None:
        key = keys.object_key(prefix, h.sha256)
        up.store.put(key, h.source.path)
        if not h.unchanged():
            up.store.delete([key])
            raise StorageError(f"'{h.source.path}' changed while it was being pushed",
                               hint="push again once the files are stable")
        up.count(h.source.size)
        up.reporter.advance(1, h.source.size)

    tasks: list[Callable[[], object]] = [partial(upload_pack, g) for g in groups]
    tasks += [partial(upload_object, h) for h in plan.new_large.values()]
    run_parallel(up.store, tasks)
    return placed


def _fragmented(hashed: list[HashedFile], known: dict[str, mf.FileEntry],
                concurrency: int) -> bool:
    """Whether reusing the previous packs would spread the small files over too many packs."""
    small = [h for h in hashed if 0 < h.source.size < SMALL_FILE_LIMIT]
    total = sum(h.source.size for h in small)
    ideal = -(-total // pack_target(total, concurrency)) if total else 0
    used = {known[h.sha256].pack for h in small
            if h.sha256 in known and known[h.sha256].location == "pack"}
    return len(used) > REPACK_FACTOR * ideal + REPACK_SLACK


def _push_files(hashed: list[HashedFile], prefix: str, previous: mf.Manifest | None,
                listing: dict[str, ObjectInfo], up: _Uploads) -> tuple[list[mf.FileEntry], int]:
    before = {e.path: e for e in previous.files} if previous is not None else {}
    entries: list[mf.FileEntry] = []
    todo: list[HashedFile] = []
    skipped = 0
    for h in hashed:
        src = h.source
        entries.append(mf.FileEntry(src.relpath, src.size, h.sha256, src.executable, "file"))
        old = before.get(src.relpath)
        info = listing.get(keys.file_key(prefix, src.relpath))
        if (old is not None and old.location == "file" and old.sha256 == h.sha256
                and info is not None and info.size == src.size):
            skipped += 1
            up.reporter.advance(1, src.size)
        else:
            todo.append(h)

    def upload(h: HashedFile) -> None:
        data: bytes | Path = h.source.path if h.source.size >= SMALL_FILE_LIMIT else b""
        if h.source.size < SMALL_FILE_LIMIT:
            data = h.source.path.read_bytes()
            if mf.version_id(data) != h.sha256:
                raise StorageError(f"'{h.source.path}' changed while it was being pushed",
                                   hint="push again once the files are stable")
        up.store.put(keys.file_key(prefix, h.relpath), data)
        if isinstance(data, Path) and not h.unchanged():
            raise StorageError(f"'{h.source.path}' changed while it was being pushed",
                               hint="push again once the files are stable")
        up.count(h.source.size)
        up.reporter.advance(1, h.source.size)

    up.planned = sum(h.source.size for h in todo)
    run_parallel(up.store, [partial(upload, h) for h in todo])
    return entries, skipped


def _delete_stale_mirror(store: ObjectStore, prefix: str, previous: mf.Manifest,
                         current: mf.Manifest) -> None:
    """Remove plain-layout files the previous version had and this one does not."""
    keep = {e.path for e in current.files}
    stale = [keys.file_key(prefix, e.path) for e in previous.files
             if e.location == "file" and e.path not in keep]
    for start in range(0, len(stale), 1000):
        store.delete(stale[start:start + 1000])
