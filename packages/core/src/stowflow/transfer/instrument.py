"""Store wrappers that count requests and inject failures (tests and benchmarks).

:class:`CountingStore` records every call by kind (``list``, ``get``, ``put``,
``delete``, ``head``) and key; :class:`FailingStore` additionally raises a chosen error
on the Nth call of a kind; :class:`DelayingStore` slows calls down (seeded). Both delegate everything else to the wrapped store.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from stowflow.errors import StorageError, StorageUnreachableError
from stowflow.transfer.store import ObjectInfo, ObjectStore


class CountingStore(ObjectStore):
    """Wraps a store and counts its calls (``calls[kind]``) and the keys each kind touched."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.max_concurrency = inner.max_concurrency
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.keys: dict[str, list[str]] = {}

    @property
    def name(self) -> str:
        """The wrapped store's name."""
        return self.inner.name

    def _record(self, kind: str, key: str) -> None:
        with self._lock:
            self.calls[kind] += 1
            self.keys.setdefault(kind, []).append(key)

    @property
    def requests(self) -> int:
        """The number of calls of every kind so far."""
        with self._lock:
            return sum(self.calls.values())

    def keys_of(self, kind: str) -> list[str]:
        """Return the keys (or prefixes) passed to calls of ``kind``, in call order."""
        with self._lock:
            return list(self.keys.get(kind, []))

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self.calls.clear()
            self.keys.clear()

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Count and list."""
        self._record("list", prefix)
        return self.inner.list(prefix)

    def get(self, key: str, byte_range: tuple[int, int] | None = None) -> BinaryIO:
        """Count and open."""
        self._record("get", key)
        return self.inner.get(key, byte_range)

    def get_bytes(self, key: str, byte_range: tuple[int, int] | None = None) -> bytes:
        """Count and read."""
        self._record("get", key)
        return self.inner.get_bytes(key, byte_range)

    def get_to_path(self, key: str, path: Path, byte_range: tuple[int, int] | None = None) -> None:
        """Count and download."""
        self._record("get", key)
        self.inner.get_to_path(key, path, byte_range)

    def put(self, key: str, data: bytes | Path) -> None:
        """Count and store."""
        self._record("put", key)
        self.inner.put(key, data)

    def delete(self, keys: Sequence[str]) -> None:
        """Count and delete."""
        self._record("delete", ",".join(keys))
        self.inner.delete(keys)

    def head(self, key: str) -> ObjectInfo | None:
        """Count and look up."""
        self._record("head", key)
        return self.inner.head(key)

    def abort_uploads(self, prefix: str, older_than_s: float) -> int:
        """Count and abort stale incomplete uploads."""
        self._record("abort_uploads", prefix)
        return self.inner.abort_uploads(prefix, older_than_s)

    def close(self) -> None:
        """Close the wrapped store."""
        self.inner.close()


class FailingStore(CountingStore):
    """A :class:`CountingStore` whose ``at``-th call of ``kind`` raises ``error`` (once).

    ``triggered`` says whether the failure happened, so a test can prove it ran.
    """

    def __init__(self, inner: ObjectStore, *, kind: str = "get", at: int = 1,
                 error: type[StorageError] = StorageUnreachableError, times: int = 1) -> None:
        super().__init__(inner)
        self.kind, self.at, self.error, self.times = kind, at, error, times
        self.triggered = 0

    def _record(self, kind: str, key: str) -> None:
        super()._record(kind, key)
        if kind != self.kind:
            return
        with self._lock:
            count = self.calls[kind]
            fire = self.at <= count < self.at + self.times
            if fire:
                self.triggered += 1
        if fire:
            raise self.error(f"{self.name}: injected failure at {kind} #{count} of '{key}'")


class DelayingStore(CountingStore):
    """A :class:`CountingStore` that sleeps before each call, as a distant region would.

    Each call of a kind in ``kinds`` (default: every kind) first sleeps a duration drawn
    uniformly from ``delay`` (seconds, ``(low, high)``) by a ``random.Random(seed)``, so a
    run is repeatable in its delays (not in thread timing).
    """

    def __init__(self, inner: ObjectStore, delay: tuple[float, float], *, seed: int = 0,
                 kinds: Sequence[str] | None = None) -> None:
        super().__init__(inner)
        self.delay, self.kinds = delay, set(kinds) if kinds is not None else None
        self._random = random.Random(seed)

    def _record(self, kind: str, key: str) -> None:
        super()._record(kind, key)
        if self.kinds is None or kind in self.kinds:
            with self._lock:
                pause = self._random.uniform(*self.delay)
            time.sleep(pause)
