"""The ``ObjectStore`` interface: all a provider implements to use the core sync engine.

A store is made for one operation (a push, a pull, a listing) and shared by all of that
operation's worker threads, so an implementation creates one SDK client in ``__init__``
(sized to :attr:`ObjectStore.max_concurrency` connections) and must be thread-safe.

Keys are POSIX paths relative to the bucket/container root. Every method translates the
SDK's failures into :mod:`stowflow.errors`: a missing bucket or key into
``StorageNotFoundError``, refused credentials into ``StorageAuthError``, an unreachable
endpoint into ``StorageUnreachableError``, and anything worth retrying (timeouts, resets,
5xx, throttling) into ``StorageTransientError`` — the engine retries only those. Messages
name the store and the key, never a credential.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from stowflow.errors import StorageNotFoundError


@dataclass(frozen=True)
class ObjectInfo:
    """One object in a listing: key, size in bytes, etag and modification time when known.

    ``modified`` is seconds since the epoch (stores that know it fill it in; gc uses it to
    leave alone a temp file that may still be being written).
    """

    key: str
    size: int
    etag: str | None = None
    modified: float | None = None


class ObjectStore(ABC):
    """A bucket-like store of objects under POSIX keys."""

    #: How many transfers the engine may run at once against this store.
    max_concurrency: int = 16

    @property
    @abstractmethod
    def name(self) -> str:
        """A human label for messages, e.g. ``s3://bucket`` (never containing credentials)."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Yield every object whose key starts with ``prefix`` (all pages, any order).

        ``prefix`` is a plain string prefix; the engine adds the trailing ``/`` that makes
        a prefix a directory. A missing bucket raises ``StorageNotFoundError``; an empty
        prefix yields nothing.
        """

    @abstractmethod
    def get(self, key: str, byte_range: tuple[int, int] | None = None) -> BinaryIO:
        """Return a readable binary stream of the object (or of bytes ``[start, end)``).

        The caller closes the stream. A missing key raises ``StorageNotFoundError``.
        """

    @abstractmethod
    def put(self, key: str, data: bytes | Path) -> None:
        """Store ``data`` (bytes, or the file at a path, streamed) at ``key``, replacing it.

        Large files should be uploaded in parts (multipart, resumable or block uploads).
        """

    @abstractmethod
    def delete(self, keys: Sequence[str]) -> None:
        """Delete ``keys``; keys that do not exist are ignored."""

    def head(self, key: str) -> ObjectInfo | None:
        """Return the info of ``key``, or ``None`` when it does not exist.

        The default lists ``key`` as a prefix; stores override it with a cheaper call.
        """
        for info in self.list(key):
            if info.key == key:
                return info
        return None

    def get_to_path(self, key: str, path: Path, byte_range: tuple[int, int] | None = None) -> None:
        """Stream the object (or a byte range) into the file at ``path``.

        The default copies :meth:`get` in chunks; stores override it for parallel
        multipart downloads of large objects.
        """
        with self.get(key, byte_range) as stream, open(path, "wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)

    def get_bytes(self, key: str, byte_range: tuple[int, int] | None = None) -> bytes:
        """Return the object (or a byte range) as bytes."""
        with self.get(key, byte_range) as stream:
            return stream.read()

    def abort_uploads(self, prefix: str, older_than_s: float) -> int:
        """Abort the incomplete uploads under ``prefix`` started more than ``older_than_s``
        seconds ago (what a killed writer left that :meth:`list` does not show: S3's
        multipart uploads, Azure's staged blocks); return how many.

        Called by gc while it holds the gc lock; it must never touch a committed object.
        The default does nothing: a store whose unfinished writes are ordinary keys
        (``.part`` files) or leave nothing (GCS resumable sessions) has none of its own.
        """
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook, most stores need nothing
        """Release the client's connections; the default does nothing."""

    def __enter__(self) -> ObjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def require(info: ObjectInfo | None, store: ObjectStore, key: str) -> ObjectInfo:
    """Return ``info`` or raise ``StorageNotFoundError`` naming the store and key."""
    if info is None:
        raise StorageNotFoundError(f"{store.name}: no object at '{key}'")
    return info
