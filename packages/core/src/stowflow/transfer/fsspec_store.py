"""An ObjectStore over any fsspec filesystem (``memory://``, ``file://``, and the rest).

Core's fallback for URLs no provider plugin claims. Keys are relative to a root folder
(``memory://bucket`` → ``/bucket``, ``file:///srv/code`` → ``/``). Errors are translated:
missing files → ``StorageNotFoundError``, permission errors → ``StorageAuthError``,
connection failures → ``StorageUnreachableError``, timeouts and other OS errors →
``StorageTransientError``. On local disks objects are written to a temp file and renamed,
so a reader never sees half an object (``HEAD`` relies on that).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import fsspec
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from stowflow.errors import (
    DiskFullError,
    StorageAuthError,
    StorageError,
    StorageNotFoundError,
    StorageTransientError,
    StorageUnreachableError,
)
from stowflow.sizes import format_size
from stowflow.transfer.diskspace import free_near
from stowflow.transfer.layout import TEMP_PREFIX_LEN, TEMP_SUFFIX
from stowflow.transfer.schemes import scheme_of
from stowflow.transfer.store import ObjectInfo, ObjectStore

T = TypeVar("T")

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: OS errors worth retrying; the rest (not a directory, name too long, ...) are permanent.
_TRANSIENT_ERRNOS = frozenset({errno.EIO, errno.EAGAIN, errno.EINTR, errno.ETIMEDOUT,
                               errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE,
                               errno.EBUSY, errno.ENETUNREACH, errno.EHOSTUNREACH})


class FsspecStore(ObjectStore):
    """An :class:`ObjectStore` whose keys live under ``root`` in an fsspec filesystem."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str = "", *,
                 label: str | None = None, max_concurrency: int = 16) -> None:
        self.fs = fs
        self.root = root
        self._base = root.rstrip("/")
        self._local = isinstance(fs, LocalFileSystem)
        self._memory = isinstance(fs, MemoryFileSystem)
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        self._label = label or f"{protocol}://{self.root.lstrip('/')}"
        self.max_concurrency = max_concurrency

    @property
    def name(self) -> str:
        """``protocol://root`` — never credentials (fsspec options are not shown)."""
        return self._label

    def _path(self, key: str) -> str:
        return f"{self._base}/{key}" if self.root else key

    def _key(self, path: str) -> str:
        if not self.root:
            return path
        if self.root.startswith("/") and not path.startswith("/"):
            path = "/" + path
        return path[len(self._base) + 1:]

    def _call(self, what: str, key: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except StorageError:
            raise
        except FileNotFoundError as exc:
            raise StorageNotFoundError(f"{self.name}: no object at '{key}' ({what})") from exc
        except PermissionError as exc:
            raise StorageAuthError(f"{self.name}: permission denied for '{key}' ({what})",
                                   hint="check the credentials or file permissions") from exc
        except ConnectionRefusedError as exc:
            raise StorageUnreachableError(f"{self.name}: cannot connect ({what} '{key}')") from exc
        except (TimeoutError, ConnectionError) as exc:
            raise StorageTransientError(f"{self.name}: {type(exc).__name__} during {what} "
                                        f"of '{key}'") from exc
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            if exc.errno in _FULL_ERRNOS and what == "put":  # the store's own disk
                path = exc.filename or self._path(key)
                folder, free = free_near(Path(str(path)).parent)
                room = f"{format_size(free)} free in '{folder}'" if free is not None else ""
                raise DiskFullError(f"{self.name}: no space left on the disk during {what} "
                                    f"of '{key}' (writing '{path}'; {room})",
                                    hint="free space on that disk") from exc
            if exc.errno in _TRANSIENT_ERRNOS:
                raise StorageTransientError(f"{self.name}: {reason} during {what} of '{key}'",
                                            ) from exc
            raise StorageError(f"{self.name}: {reason} during {what} of '{key}'") from exc

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Yield every object whose key starts with ``prefix``."""
        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        base = self._path(folder) if folder else (self.root or "")

        def find() -> dict[str, Any]:
            try:
                return self.fs.find(base, detail=True, withdirs=False)
            except FileNotFoundError:
                return {}

        for path, info in self._call("list", prefix, find).items():
            if info.get("type") == "directory":
                continue
            key = self._key(path)
            if key.startswith(prefix):
                etag = info.get("ETag") or info.get("etag") or _local_etag(info)
                yield ObjectInfo(key, int(info.get("size") or 0), etag, _mtime(info))

    def get(self, key: str, byte_range: tuple[int, int] | None = None) -> BinaryIO:
        """Open the object (or bytes ``[start, end)``) for reading."""
        if byte_range is not None or self._memory:
            # fsspec's memory filesystem hands every reader the same file object (one
            # shared position), so concurrent readers get a copy of the bytes instead.
            return io.BytesIO(self.get_bytes(key, byte_range))
        return self._call("get", key, lambda: self.fs.open(self._path(key), "rb"))

    def get_bytes(self, key: str, byte_range: tuple[int, int] | None = None) -> bytes:
        """Return the object's bytes (or bytes ``[start, end)``)."""
        start, end = byte_range if byte_range is not None else (None, None)
        return self._call("get", key, lambda: self.fs.cat_file(self._path(key), start, end))

    def get_to_path(self, key: str, path: Path, byte_range: tuple[int, int] | None = None) -> None:
        """Download the object into ``path``."""
        if byte_range is not None or self._memory:
            # get_file on the memory filesystem reads its one shared file object too.
            path.write_bytes(self.get_bytes(key, byte_range))
            return
        self._call("get", key, lambda: self.fs.get_file(self._path(key), str(path)))

    def put(self, key: str, data: bytes | Path) -> None:
        """Store ``data`` at ``key`` (atomically on local disks)."""
        target = self._path(key)
        if self._local and key.endswith("/"):
            # A folder marker: on a disk that is just the folder.
            self._call("put", key, lambda: os.makedirs(target, exist_ok=True))
        elif self._local:
            self._call("put", key, lambda: _atomic_local_write(target, data))
        elif isinstance(data, Path):
            self._call("put", key, lambda: self.fs.put_file(str(data), target))
        else:
            self._call("put", key, lambda: self.fs.pipe_file(target, data))

    def delete(self, keys: Sequence[str]) -> None:
        """Delete ``keys``; missing ones are ignored."""
        for key in keys:
            def rm(key: str = key) -> None:
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(self._path(key))
            self._call("delete", key, rm)

    def head(self, key: str) -> ObjectInfo | None:
        """Return the info of ``key`` or ``None``."""
        def info() -> dict[str, Any] | None:
            try:
                return self.fs.info(self._path(key))
            except FileNotFoundError:
                return None

        found = self._call("head", key, info)
        if found is None or found.get("type") == "directory":
            return None
        return ObjectInfo(key, int(found.get("size") or 0), _local_etag(found))


def _mtime(info: dict[str, Any]) -> float | None:
    mtime = info.get("mtime") or info.get("created")
    if isinstance(mtime, int | float):
        return float(mtime)
    stamp = getattr(mtime, "timestamp", None)
    return float(stamp()) if callable(stamp) else None


def _local_etag(info: dict[str, Any]) -> str | None:
    mtime = info.get("mtime") or info.get("created")
    if mtime is None:
        return None
    return f"{info.get('size')}-{mtime}-{info.get('ino', '')}"


def _atomic_local_write(target: str, data: bytes | Path) -> None:
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{uuid.uuid4().hex[:TEMP_PREFIX_LEN]}-",
                               suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(data, Path):
                with open(data, "rb") as src:
                    while chunk := src.read(1024 * 1024):
                        out.write(chunk)
            else:
                out.write(data)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS and not exc.filename:
            # A write() error names no file: name the object being written.
            raise OSError(exc.errno, exc.strerror, target) from exc
        raise


def store_for_url(url: str, options: dict[str, Any] | None = None) -> FsspecStore | None:
    """Return an :class:`FsspecStore` covering the bucket of ``url``, or ``None``.

    ``None`` when fsspec has no filesystem for the scheme or its implementation is not
    installed (the caller then points at the distribution to install).
    """
    protocol = scheme_of(url)
    if not protocol:
        return None
    rest = url.split("://", 1)[1]
    try:
        cls = fsspec.get_filesystem_class(protocol)
    except (ValueError, ImportError):
        return None
    fs = cls(**(options or {}))
    if isinstance(fs, LocalFileSystem):
        return FsspecStore(fs, "/", label="file://", max_concurrency=16)
    bucket = rest.split("/", 1)[0]
    root = cls._strip_protocol(f"{protocol}://{bucket}") if bucket else ""
    return FsspecStore(fs, str(root), label=f"{protocol}://{bucket}")
