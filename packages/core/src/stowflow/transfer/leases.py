"""Push leases and the gc lock: how pushes and ``gc`` on one prefix exclude each other.

After restic's locks (a prune holds an exclusive lock, a backup a shared one), on stores
that list what was just written (S3, GCS, Azure, local disks all do):

- A push that will write a new version first puts a lease
  ``<prefix>/.stowflow/leases/push-<epoch>-<uuid>``, *then* lists the store (a listing
  that covers the leases folder); while it shows a live gc lock the push waits (polling)
  and lists again, and only then decides what it reuses. It deletes its lease after writing ``HEAD``.
- ``gc`` deletes only while it holds ``<prefix>/.stowflow/leases/gc-<epoch>-<uuid>``: it
  puts the lock, *then* lists the leases folder and refuses while a live push lease exists.

Both sides write before they read, so of a push and a gc that overlap at least one sees
the other: either gc refuses, or the push waits until gc is done and lists the store
afterwards. A push therefore never reuses an object a gc is deleting, and a gc never
deletes an object a live push reuses (it also re-lists the manifests after taking its
lock, so a push that finished in between protects what its manifest references).

Time bounds (the grace periods, as git's ``prune --expire``): a push lease is live for
:data:`LEASE_TTL_S` (a push renews it before writing its manifest when it has held it
longer than :data:`LEASE_RENEW_S`); a gc stops deleting once it has held its lock for
:data:`GC_DELETE_WINDOW_S`, and pushes ignore a gc lock older than :data:`GC_LOCK_TTL_S`,
so a crashed gc delays a push by at most that long. A lease or lock whose body names this
host and a process that is gone is dead at once (its host, pid and process start time
are recorded), so a killed local push never blocks gc.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from stowflow.errors import StorageError, StorageNotFoundError
from stowflow.transfer.paths import join_key
from stowflow.transfer.store import ObjectInfo, ObjectStore

log = logging.getLogger(__name__)

#: A push lease older than this (seconds) belongs to a push that crashed.
LEASE_TTL_S = 2 * 60 * 60
#: A push that has held its lease this long renews it before writing its manifest.
LEASE_RENEW_S = LEASE_TTL_S - 30 * 60
#: A gc stops deleting after holding its lock this long (the rest waits for the next gc).
GC_DELETE_WINDOW_S = 5 * 60
#: Pushes ignore a gc lock older than this (a crashed gc); longer than the delete window.
GC_LOCK_TTL_S = 10 * 60
#: How often a push waiting for a gc lists the leases again.
WAIT_POLL_S = 0.5

PUSH, GC = "push", "gc"


def leases_prefix(prefix: str) -> str:
    """Return the listing prefix of the push leases and gc locks under ``prefix``."""
    return join_key(prefix, ".stowflow/leases/")


def _lease_key(prefix: str, kind: str, started: float) -> str:
    return join_key(prefix, f".stowflow/leases/{kind}-{int(started)}-{uuid.uuid4().hex}")


def _parse(key: str) -> tuple[str, float] | None:
    """Return ``(kind, started)`` of a lease or lock key, ``None`` for anything else."""
    parts = key.rsplit("/", 1)[-1].split("-")
    if len(parts) != 3 or parts[0] not in (PUSH, GC) or not parts[1].isdigit():
        return None
    return parts[0], float(parts[1])


def _process_start(pid: int) -> str:
    """The start time of ``pid`` in clock ticks since boot ('' where /proc is missing)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _body() -> bytes:
    pid = os.getpid()
    return f"{socket.gethostname()} pid {pid} start {_process_start(pid)}\n".encode()


def holder_is_dead(body: str, host: str | None = None) -> bool:
    """Whether a lease body (``HOST pid PID [start TICKS]``) names a gone local process.

    Only a holder on this host can be judged; older leases without a start time are
    judged by their pid alone.
    """
    words = body.split()
    if len(words) < 3 or words[1] != "pid" or not words[2].isdigit():
        return False
    if words[0] != (host or socket.gethostname()):
        return False
    pid = int(words[2])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, someone else's
    started = words[4] if len(words) >= 5 and words[3] == "start" else ""
    return bool(started) and _process_start(pid) not in ("", started)


@dataclass(frozen=True)
class LeaseInfo:
    """One lease or lock found under a prefix: key, kind (push/gc), start, liveness."""

    key: str
    kind: str
    started: float
    live: bool


def scan_leases(store: ObjectStore, prefix: str, now: float | None = None, *,
                exclude: str | None = None,
                listing: Iterable[ObjectInfo] | None = None) -> list[LeaseInfo]:
    """Return every push lease and gc lock under ``prefix`` and whether it is still live.

    A lease is dead when older than its TTL or when its body names a gone local process.
    ``listing`` is a listing that covers the leases folder (else it is listed).
    """
    now = time.time() if now is None else now
    under = leases_prefix(prefix)
    infos = store.list(under) if listing is None else listing
    found = []
    for info in infos:
        parsed = _parse(info.key) if info.key.startswith(under) else None
        if parsed is None or info.key == exclude:
            continue
        kind, started = parsed
        ttl = LEASE_TTL_S if kind == PUSH else GC_LOCK_TTL_S
        live = now - started < ttl
        if live:
            try:
                body = store.get_bytes(info.key).decode(errors="replace")
            except StorageNotFoundError:
                continue  # released while we listed
            live = not holder_is_dead(body)
        found.append(LeaseInfo(info.key, kind, started, live))
    return found


def live_push_leases(store: ObjectStore, prefix: str, now: float | None = None) -> list[str]:
    """Return the keys of the live push leases on ``prefix``."""
    return [lease.key for lease in scan_leases(store, prefix, now)
            if lease.kind == PUSH and lease.live]


class PushLease:
    """A push's lease on a prefix (see :func:`push_lease`)."""

    def __init__(self, store: ObjectStore, prefix: str,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.store, self.prefix, self._sleep = store, prefix, sleep
        self.key = ""
        self.taken = 0.0

    def acquire(self) -> None:
        """Put a fresh lease (deleting the one held before, if any)."""
        old = self.key
        self.taken = time.time()
        self.key = _lease_key(self.prefix, PUSH, self.taken)
        self.store.put(self.key, _body())
        if old:
            self.store.delete([old])

    def list_store(self, listing_prefix: str) -> dict[str, ObjectInfo]:
        """List ``listing_prefix`` (which must cover the leases) once no gc is running.

        While the listing shows a live gc lock, wait and list again: what a push sees
        after that is what gc left, and any later gc sees this push's lease.
        """
        said = False
        while True:
            listing = {info.key: info for info in self.store.list(listing_prefix)}
            running = [lease for lease in scan_leases(self.store, self.prefix, exclude=self.key,
                                                      listing=listing.values())
                       if lease.kind == GC and lease.live]
            if not running:
                return listing
            if not said:
                log.info("%s: waiting for the gc of '%s' to finish", self.store.name,
                         self.prefix)
                said = True
            self._sleep(WAIT_POLL_S)

    def renew_if_old(self) -> bool:
        """Take a fresh lease when this one is older than :data:`LEASE_RENEW_S`.

        Returns whether it was renewed (the caller then checks again that what it reuses
        is still there, as a gc may have judged the old lease dead).
        """
        if time.time() - self.taken < LEASE_RENEW_S:
            return False
        self.acquire()
        self.list_store(leases_prefix(self.prefix))
        return True

    def release(self) -> None:
        """Delete the lease."""
        if self.key:
            self.store.delete([self.key])


@contextmanager
def push_lease(store: ObjectStore, prefix: str) -> Iterator[PushLease]:
    """Hold a push lease on ``prefix`` for the ``with`` block.

    The holder lists the store through :meth:`PushLease.list_store`, which waits for a gc
    in progress.
    """
    lease = PushLease(store, prefix)
    try:
        lease.acquire()
        yield lease
    finally:
        lease.release()


class GcLock:
    """A gc's lock on a prefix (see :func:`gc_lock`)."""

    def __init__(self, store: ObjectStore, prefix: str, force: bool) -> None:
        self.store, self.prefix, self.force = store, prefix, force
        self.taken = time.time()
        self.key = _lease_key(prefix, GC, self.taken)

    def check(self) -> None:
        """Raise a StorageError when gc must stop deleting (a push appeared, time is up)."""
        if time.time() - self.taken > GC_DELETE_WINDOW_S:
            raise StorageError(
                f"{self.store.name}: gc of '{self.prefix}' stopped after "
                f"{GC_DELETE_WINDOW_S // 60} minutes of deleting (pushes would stop waiting "
                "for it); what is left is still unreferenced",
                hint="run gc again to delete the rest")
        if not self.force:
            refuse_if_pushing(self.store, self.prefix, "gc")


@contextmanager
def gc_lock(store: ObjectStore, prefix: str, *, force: bool = False) -> Iterator[GcLock]:
    """Hold the gc lock on ``prefix``; refuse (StorageError) while a live push lease exists.

    ``force`` ignores push leases (for a lease a crashed push left on another host).
    """
    lock = GcLock(store, prefix, force)
    store.put(lock.key, _body())
    try:
        if not force:
            refuse_if_pushing(store, prefix, "gc")
        yield lock
    finally:
        with contextlib.suppress(StorageError):
            store.delete([lock.key])


def stale_leases(store: ObjectStore, prefix: str) -> list[str]:
    """Return the keys of dead leases and locks under ``prefix`` (crashed pushes and gcs)."""
    return [lease.key for lease in scan_leases(store, prefix) if not lease.live]


def refuse_if_pushing(store: ObjectStore, prefix: str, what: str) -> None:
    """Raise a StorageError naming the push in flight when ``prefix`` has a live lease."""
    live = live_push_leases(store, prefix)
    if live:
        parsed = _parse(live[0])
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                time.gmtime(parsed[1] if parsed else 0))
        raise StorageError(
            f"{store.name}: {what} stopped: a push to '{prefix}' is in progress "
            f"(started {started}); deleting now could remove objects it is reusing",
            hint="run it again when the push has finished; if no push is running (one "
            "crashed on another machine), pass --force",
        )
