"""Push leases: how a ``gc`` learns that a push to the same prefix is in flight.

A push that will write a new version first puts a small lease object under
``<prefix>/.stowflow/leases/`` and deletes it when it is done. ``gc`` refuses to start
while a live lease exists and checks again before each batch of deletions, so it never
deletes a pack or object that a push in flight is about to reference. A lease older than
:data:`LEASE_TTL_S` is taken to be left by a crashed push and ignored (``gc --force``
ignores all leases). Pushes never wait for ``gc``: a crashed ``gc`` can never block a
deploy. The window that remains — a ``gc`` deletion request already in flight when a push
begins — is closed by the push itself, which checks before it writes its manifest that
every object it reuses still exists, and pushes again if one vanished.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from stowflow.errors import StorageError
from stowflow.transfer.paths import join_key
from stowflow.transfer.store import ObjectStore

#: A lease older than this (seconds) belongs to a push that crashed.
LEASE_TTL_S = 2 * 60 * 60


def leases_prefix(prefix: str) -> str:
    """Return the listing prefix of the push leases under ``prefix``."""
    return join_key(prefix, ".stowflow/leases/")


def _lease_key(prefix: str, started: float) -> str:
    return join_key(prefix, f".stowflow/leases/push-{int(started)}-{uuid.uuid4().hex}")


def _started(key: str) -> float | None:
    name = key.rsplit("/", 1)[-1]
    parts = name.split("-")
    if len(parts) != 3 or parts[0] != "push" or not parts[1].isdigit():
        return None
    return float(parts[1])


@contextmanager
def push_lease(store: ObjectStore, prefix: str) -> Iterator[str]:
    """Hold a push lease on ``prefix`` for the ``with`` block; yield its key."""
    key = _lease_key(prefix, time.time())
    store.put(key, f"{socket.gethostname()} pid {os.getpid()}\n".encode())
    try:
        yield key
    finally:
        store.delete([key])


def live_push_leases(store: ObjectStore, prefix: str, now: float | None = None) -> list[str]:
    """Return the keys of push leases on ``prefix`` younger than :data:`LEASE_TTL_S`."""
    now = time.time() if now is None else now
    live = []
    for info in store.list(leases_prefix(prefix)):
        started = _started(info.key)
        if started is not None and now - started < LEASE_TTL_S:
            live.append(info.key)
    return live


def refuse_if_pushing(store: ObjectStore, prefix: str, what: str) -> None:
    """Raise a StorageError naming the push in flight when ``prefix`` has a live lease."""
    live = live_push_leases(store, prefix)
    if live:
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                time.gmtime(_started(live[0]) or 0))
        raise StorageError(
            f"{store.name}: {what} stopped: a push to '{prefix}' is in progress "
            f"(started {started}); deleting now could remove objects it is reusing",
            hint="run it again when the push has finished; if no push is running (one "
            "crashed), pass --force",
        )
