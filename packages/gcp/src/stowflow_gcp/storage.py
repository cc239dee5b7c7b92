"""Google Cloud Storage for stowflow: the ``GcsBucket`` block and the GCS ``ObjectStore``.

:class:`GcsObjectStore` is all the core sync engine needs to push to and pull from a
bucket; :class:`GcsBucket` is the saved, named configuration users pass to
``flow.from_source`` and whose directory methods go through that same engine.

Retries belong to the engine (it retries ``StorageTransientError`` with backoff and never
an auth error), so SDK calls are made with ``retry=None``: an unreachable endpoint fails
at once instead of after the SDK's two-minute retry deadline.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pydantic import Field
from stowflow.errors import ConfigError, StorageTransientError
from stowflow.storage import ObjectStorageBlock
from stowflow.transfer import ObjectInfo, ObjectStore

from stowflow_gcp._errors import translated
from stowflow_gcp.credentials import GcpCredentials

if TYPE_CHECKING:
    from google.cloud.storage import Blob

MiB = 1024 * 1024
#: Fields a listing asks for: the rest of each object's metadata is never sent.
_LIST_FIELDS = "items(name,size,md5Hash,crc32c,generation),nextPageToken"


@dataclass(frozen=True)
class GcsObjectInfo(ObjectInfo):
    """An object in a GCS listing; ``etag`` is its generation (it changes on every write)."""

    md5_hash: str | None = None
    crc32c: str | None = None
    generation: int | None = None


def _info(blob: Blob) -> GcsObjectInfo:
    generation = blob.generation
    return GcsObjectInfo(
        key=blob.name or "", size=int(blob.size or 0),
        etag=str(generation) if generation is not None else None,
        md5_hash=blob.md5_hash, crc32c=blob.crc32c, generation=generation,
    )


class _BlobStream(io.RawIOBase):
    """A readable stream of bytes ``[start, end)`` of one object generation, fetched in chunks.

    The first chunk is fetched on creation, so a missing object fails in ``get`` rather
    than on the first read; later chunks are pinned to that chunk's generation, so a
    concurrent overwrite can never mix two versions in one stream.
    """

    def __init__(self, store: GcsObjectStore, key: str, start: int, end: int | None) -> None:
        super().__init__()
        self._store, self._key = store, key
        self._pos, self._end = start, end
        self._blob: Blob = store._bucket.blob(key)
        self._chunk = memoryview(b"")  # the unread rest of the last chunk fetched
        self._pinned: int | None = None
        self._eof = end is not None and start >= end
        if not self._eof:
            self._fetch()

    def _fetch(self) -> None:
        from google.api_core.exceptions import RequestRangeNotSatisfiable

        want = self._store.chunk_size
        if self._end is not None:
            want = min(want, self._end - self._pos)
        with translated(self._store.where(self._key), "download"):
            try:
                data = self._blob.download_as_bytes(
                    start=self._pos, end=self._pos + want - 1, checksum=None, retry=None,
                    timeout=self._store.timeout,
                )
            except RequestRangeNotSatisfiable:  # reading at or past the end of the object
                data = b""
        if self._pinned is None and self._blob.generation is not None:
            # Pin every later chunk to the generation the first chunk came from.
            self._pinned = int(self._blob.generation)
            self._blob = self._store._bucket.blob(self._key, generation=self._pinned)
        self._pos += len(data)
        self._chunk = memoryview(data)
        self._eof = len(data) < want or (self._end is not None and self._pos >= self._end)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not self._chunk and not self._eof:
            self._fetch()
        count = min(len(view), len(self._chunk))
        view[:count] = self._chunk[:count]
        self._chunk = self._chunk[count:]  # a view: no copy of the rest
        return count


class GcsObjectStore(ObjectStore):
    """A GCS bucket as a :class:`~stowflow.transfer.ObjectStore` (one client, thread-safe).

    Class attributes are the tuning knobs (override per instance with keyword arguments).
    """

    #: Objects per listing request (GCS allows up to 1000; tests force small pages).
    page_size: int = 1000
    #: Bytes per ranged download request and per resumable-upload chunk (multiple of 256 KiB).
    chunk_size: int = 8 * MiB
    #: Files of at least this many bytes go up as resumable uploads, in chunks.
    resumable_threshold: int = 8 * MiB
    #: Whole objects of at least this many bytes are downloaded as parallel slices.
    sliced_download_threshold: int = 64 * MiB
    #: Parallel ranged requests per sliced download (kept small: the engine already runs
    #: ``max_concurrency`` transfers at once).
    download_workers: int = 4
    #: (connect, read) timeouts in seconds for every request.
    timeout: tuple[float, float] = (10.0, 120.0)

    def __init__(self, bucket: str, credentials: GcpCredentials | None = None, *,
                 project: str | None = None, max_concurrency: int | None = None,
                 page_size: int | None = None, chunk_size: int | None = None,
                 resumable_threshold: int | None = None,
                 sliced_download_threshold: int | None = None,
                 download_workers: int | None = None,
                 timeout: tuple[float, float] | None = None) -> None:
        """Connect to ``bucket`` with ``credentials`` (Application Default when ``None``).

        ``project`` wins over the credentials' project. The HTTP connection pool holds
        ``max_concurrency`` connections, one per engine worker thread.
        """
        if not bucket or "/" in bucket:
            raise ConfigError(f"invalid GCS bucket name {bucket!r}")
        if max_concurrency is not None:
            self.max_concurrency = max_concurrency
        if page_size is not None:
            self.page_size = page_size
        if chunk_size is not None:
            if chunk_size <= 0 or chunk_size % (256 * 1024):
                raise ConfigError(f"chunk_size must be a positive multiple of 256 KiB, "
                                  f"got {chunk_size}")
            self.chunk_size = chunk_size
        if resumable_threshold is not None:
            self.resumable_threshold = resumable_threshold
        if sliced_download_threshold is not None:
            self.sliced_download_threshold = sliced_download_threshold
        if download_workers is not None:
            self.download_workers = max(1, download_workers)
        if timeout is not None:
            self.timeout = (float(timeout[0]), float(timeout[1]))  # YAML gives a list
        self.bucket_name = bucket
        self.credentials = credentials if credentials is not None else GcpCredentials()
        with translated(self.name, "connect"):
            self._client = self.credentials.get_storage_client(
                project, pool_size=self.max_concurrency)
        self._bucket = self._client.bucket(bucket)

    @property
    def name(self) -> str:
        """``gs://bucket``."""
        return f"gs://{self.bucket_name}"

    @property
    def project(self) -> str | None:
        """The project the client was made for (``None`` when none was given or found)."""
        return self._client.project  # type: ignore[no-any-return]

    def where(self, key: str) -> str:
        """Return ``gs://bucket/key`` for messages."""
        return f"{self.name}/{key}" if key else self.name

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Yield every object under ``prefix``, ``page_size`` objects per request."""
        with translated(self.where(prefix), "list"):
            pages = self._client.list_blobs(
                self.bucket_name, prefix=prefix or None, page_size=self.page_size,
                fields=_LIST_FIELDS, retry=None, timeout=self.timeout,
            ).pages
            for page in pages:
                for blob in page:
                    yield _info(blob)

    def head(self, key: str) -> GcsObjectInfo | None:
        """Return the object's size, generation and checksums, or ``None`` if it is absent."""
        with translated(self.where(key), "stat"):
            blob = self._bucket.get_blob(key, retry=None, timeout=self.timeout)
        return _info(blob) if blob is not None else None

    def get(self, key: str, byte_range: tuple[int, int] | None = None) -> BinaryIO:
        """Return a stream of the object (or bytes ``[start, end)``), fetched in chunks."""
        start, end = byte_range if byte_range is not None else (0, None)
        raw = _BlobStream(self, key, start, end)
        return io.BufferedReader(raw, buffer_size=min(self.chunk_size, MiB))  # type: ignore[return-value]

    def get_bytes(self, key: str, byte_range: tuple[int, int] | None = None) -> bytes:
        """Return the object (or bytes ``[start, end)``) in one request, checksum-verified."""
        if byte_range is not None and byte_range[0] >= byte_range[1]:
            return b""
        start, end = byte_range if byte_range is not None else (None, None)
        with translated(self.where(key), "download"):
            return self._bucket.blob(key).download_as_bytes(  # type: ignore[no-any-return]
                start=start, end=end - 1 if end is not None else None,
                checksum="auto" if byte_range is None else None,
                retry=None, timeout=self.timeout,
            )

    def get_to_path(self, key: str, path: Path, byte_range: tuple[int, int] | None = None) -> None:
        """Stream the object (or a byte range) into ``path``.

        Whole objects are crc32c-checked; objects of at least ``sliced_download_threshold``
        bytes are fetched as ``download_workers`` parallel ranged requests.
        """
        if byte_range is not None and byte_range[0] >= byte_range[1]:
            Path(path).write_bytes(b"")
            return
        if byte_range is None and self.download_workers > 1:
            info = self.head(key)
            if info is not None and info.size >= self.sliced_download_threshold:
                self._sliced_download(key, Path(path), info)
                return
        start, end = byte_range if byte_range is not None else (None, None)
        with translated(self.where(key), "download"), open(path, "wb") as out:
            self._bucket.blob(key).download_to_file(
                out, start=start, end=end - 1 if end is not None else None,
                checksum="auto" if byte_range is None else None,
                retry=None, timeout=self.timeout,
            )

    def _sliced_download(self, key: str, path: Path, info: GcsObjectInfo) -> None:
        """Fetch one generation of a large object as parallel ranged reads written in place."""
        import google_crc32c

        blob = self._bucket.blob(key, generation=info.generation)
        slice_size = max(self.chunk_size, -(-info.size // self.download_workers))
        starts = range(0, info.size, slice_size)

        def fetch(start: int) -> None:
            end = min(start + slice_size, info.size) - 1
            with translated(self.where(key), "download"):
                data = blob.download_as_bytes(start=start, end=end, checksum=None,
                                              retry=None, timeout=self.timeout)
            if len(data) != end - start + 1:
                raise StorageTransientError(f"{self.where(key)}: download failed: got "
                                            f"{len(data)} bytes of a {end - start + 1}-byte range")
            os.pwrite(fd, data, start)

        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.ftruncate(fd, info.size)
            with ThreadPoolExecutor(max_workers=min(self.download_workers, len(starts))) as pool:
                for _ in pool.map(fetch, starts):
                    pass
        finally:
            os.close(fd)
        if info.crc32c:
            checksum = google_crc32c.Checksum()
            with open(path, "rb") as written:
                for block in iter(lambda: written.read(MiB), b""):
                    checksum.update(block)
            if base64.b64encode(checksum.digest()).decode() != info.crc32c:
                raise StorageTransientError(f"{self.where(key)}: download failed: crc32c of the "
                                            "assembled slices does not match the object's")

    def put(self, key: str, data: bytes | Path) -> None:
        """Upload ``data`` to ``key``: one request when small, a resumable upload when large.

        Both are checksum-validated by the SDK (crc32c).
        """
        size = len(data) if isinstance(data, bytes) else Path(data).stat().st_size
        blob = self._bucket.blob(key)
        with translated(self.where(key), "upload"):
            if size < self.resumable_threshold:
                if isinstance(data, bytes):
                    blob.upload_from_string(data, content_type="application/octet-stream",
                                            retry=None, timeout=self.timeout)
                else:
                    blob.upload_from_filename(str(data), content_type="application/octet-stream",
                                              retry=None, timeout=self.timeout)
                return
            # An unknown size makes the SDK use a resumable session below its own 8 MiB
            # multipart cut-off too; the file streams up chunk_size bytes at a time.
            blob.chunk_size = self.chunk_size
            stream = io.BytesIO(data) if isinstance(data, bytes) else open(data, "rb")  # noqa: SIM115
            with stream:
                blob.upload_from_file(stream, size=None, content_type="application/octet-stream",
                                      retry=None, timeout=self.timeout)

    def delete(self, keys: Sequence[str]) -> None:
        """Delete ``keys`` (in parallel when several); missing keys are ignored."""
        keys = list(keys)
        if len(keys) <= 1:
            for key in keys:
                self._delete_one(key)
            return
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(keys))) as pool:
            for _ in pool.map(self._delete_one, keys):
                pass

    def _delete_one(self, key: str) -> None:
        from google.api_core.exceptions import NotFound

        with translated(self.where(key), "delete"), contextlib.suppress(NotFound):
            self._bucket.delete_blob(key, retry=None, timeout=self.timeout)

    def close(self) -> None:
        """Close the client's HTTP connections."""
        self._client.close()


class GcsBucket(ObjectStorageBlock):
    """A folder in a GCS bucket that holds a deployment's code.

    ``flow.from_source(source=GcsBucket.load("code"), entrypoint="etl.py:etl")``. The
    directory and path methods are :class:`~stowflow.storage.ObjectStorageBlock`'s.
    """

    __block_type_name__ = "GCS Bucket"
    folder_field = "bucket_folder"

    bucket: str = Field(description="Name of the bucket.")
    gcp_credentials: GcpCredentials = Field(
        default_factory=GcpCredentials,
        description="Credentials for the bucket; Application Default Credentials when empty.",
    )
    bucket_folder: str = Field(
        default="", description="Folder in the bucket that paths are relative to.")

    def object_store(self, **settings: Any) -> GcsObjectStore:
        """Return a :class:`GcsObjectStore` for this bucket (``settings`` tune it)."""
        return GcsObjectStore(self.bucket, self.gcp_credentials, **settings)
