"""Retries with exponential backoff and full jitter — for transient failures only.

Only :class:`~stowflow.errors.StorageTransientError` (timeouts, resets, 5xx, throttling,
as translated by the store) is retried. Auth, not-found and unreachable errors are raised
at once: retrying them wastes minutes and can lock accounts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, TypeVar

from stowflow.errors import StorageTransientError
from stowflow.transfer.store import ObjectInfo, ObjectStore

T = TypeVar("T")

DEFAULT_ATTEMPTS = 5
DEFAULT_BASE_DELAY = 0.1
DEFAULT_MAX_DELAY = 5.0


def backoff_delays(attempts: int, base: float, cap: float,
                   rand: Callable[[], float] = random.random) -> list[float]:
    """Return the sleeps between ``attempts`` tries: full jitter over ``base * 2**n``, capped."""
    return [rand() * min(cap, base * 2**n) for n in range(max(attempts - 1, 0))]


def call_with_retry(fn: Callable[[], T], *, attempts: int = DEFAULT_ATTEMPTS,
                    base_delay: float = DEFAULT_BASE_DELAY, max_delay: float = DEFAULT_MAX_DELAY,
                    sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``fn`` and return its result, retrying ``StorageTransientError`` with backoff.

    After the last attempt the error is raised again, saying how many attempts were made,
    with the last failure chained.
    """
    delays = backoff_delays(attempts, base_delay, max_delay)
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except StorageTransientError as exc:
            if attempt >= attempts:
                raise StorageTransientError(
                    f"{exc.message} (gave up after {attempts} attempts)", hint=exc.hint
                ) from exc
            sleep(delays[attempt - 1])
    raise AssertionError("unreachable")  # pragma: no cover


class RetryingStore(ObjectStore):
    """Wraps a store so that every call is retried on transient failures.

    The engine uses only whole calls (``get_bytes``, ``get_to_path``, a fully consumed
    ``list``), so a failure in the middle of a body is retried from the start.
    """

    def __init__(self, inner: ObjectStore, *, attempts: int = DEFAULT_ATTEMPTS,
                 base_delay: float = DEFAULT_BASE_DELAY, max_delay: float = DEFAULT_MAX_DELAY,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.inner = inner
        self.max_concurrency = inner.max_concurrency
        self._kw = {"attempts": attempts, "base_delay": base_delay, "max_delay": max_delay,
                    "sleep": sleep}

    def _call(self, fn: Callable[[], T]) -> T:
        return call_with_retry(fn, **self._kw)  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        """The wrapped store's name."""
        return self.inner.name

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """List ``prefix`` completely (retrying the whole listing on a transient failure)."""
        return iter(self._call(lambda: list(self.inner.list(prefix))))

    def get(self, key: str, byte_range: tuple[int, int] | None = None) -> BinaryIO:
        """Open ``key`` (retrying the open; reads from the stream are not retried)."""
        return self._call(lambda: self.inner.get(key, byte_range))

    def get_bytes(self, key: str, byte_range: tuple[int, int] | None = None) -> bytes:
        """Return the object's bytes, retrying the whole read."""
        return self._call(lambda: self.inner.get_bytes(key, byte_range))

    def get_to_path(self, key: str, path: Path, byte_range: tuple[int, int] | None = None) -> None:
        """Download into ``path``, retrying the whole download."""
        self._call(lambda: self.inner.get_to_path(key, path, byte_range))

    def put(self, key: str, data: bytes | Path) -> None:
        """Store ``data`` at ``key``, retrying the whole upload."""
        self._call(lambda: self.inner.put(key, data))

    def delete(self, keys: Sequence[str]) -> None:
        """Delete ``keys``, retrying the whole call."""
        self._call(lambda: self.inner.delete(keys))

    def head(self, key: str) -> ObjectInfo | None:
        """Return the info of ``key`` or ``None``, retrying transient failures."""
        return self._call(lambda: self.inner.head(key))

    def abort_uploads(self, prefix: str, older_than_s: float) -> int:
        """Abort the wrapped store's stale incomplete uploads, retrying transient failures."""
        return self._call(lambda: self.inner.abort_uploads(prefix, older_than_s))

    def close(self) -> None:
        """Close the wrapped store."""
        self.inner.close()


def retrying(store: ObjectStore) -> ObjectStore:
    """Return ``store`` wrapped in a :class:`RetryingStore` (once)."""
    return store if isinstance(store, RetryingStore) else RetryingStore(store)
