"""Azure Blob Storage for stowflow: the ``AzureBlobStorage`` block and the engine's ``ObjectStore``.

:class:`AzureBlobObjectStore` is all the core sync engine needs to push to and pull from a
container; :class:`AzureBlobStorage` is the saved, named form (container, credentials,
folder) that users hand to ``flow.from_source`` or use directly.
"""

from __future__ import annotations

import io
import os
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from pydantic import Field, field_validator
from stowflow.errors import StorageError, StorageNotFoundError, UnsafePathError
from stowflow.storage import ObjectStorageBlock
from stowflow.transfer import ObjectInfo, ObjectStore
from stowflow.transfer.translate import TranslatingStream

from stowflow_azure._errors import CONTAINER_NOT_FOUND, error_code, translate
from stowflow_azure.credentials import (
    ACCOUNT_URL_ENV,
    CONNECTION_STRING_ENV,
    AzureBlobCredentials,
)

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient, BlobProperties, StorageStreamDownloader

MiB = 1024 * 1024
#: Transfer sizes: blobs up to SINGLE_PUT_SIZE go up in one request, larger ones as
#: BLOCK_SIZE blocks uploaded in parallel; downloads beyond SINGLE_GET_SIZE are fetched as
#: CHUNK_GET_SIZE ranges in parallel (and streamed gets hold at most one chunk in memory).
SINGLE_PUT_SIZE = 8 * MiB
BLOCK_SIZE = 4 * MiB
SINGLE_GET_SIZE = 4 * MiB
CHUNK_GET_SIZE = 4 * MiB
#: The Blob Batch API accepts at most 256 sub-requests.
DELETE_BATCH_SIZE = 256


def _is_directory_marker(name: str, metadata: dict[str, str] | None) -> bool:
    # ADLS Gen2 / Storage Explorer folders: empty blobs flagged hdi_isfolder, or names ending "/"
    if name.endswith("/"):
        return True
    return any(k.lower() == "hdi_isfolder" and str(v).lower() == "true"
               for k, v in (metadata or {}).items())


def _etag(props: BlobProperties) -> str | None:
    # Content-MD5 is derived from the content (stable across identical uploads); block-list
    # uploads have none, so fall back to the service's ETag.
    settings = getattr(props, "content_settings", None)
    md5 = getattr(settings, "content_md5", None)
    if md5:
        return bytes(md5).hex()
    etag = props.etag
    return etag.strip('"') if etag else None


def _range(byte_range: tuple[int, int] | None) -> tuple[int | None, int | None]:
    if byte_range is None:
        return None, None
    start, end = byte_range
    if start < 0 or end < start:
        raise ValueError(f"invalid byte range {byte_range!r}: need 0 <= start <= end")
    return start, end - start


class AzureBlobObjectStore(ObjectStore):
    """An Azure Blob Storage container as an :class:`~stowflow.transfer.ObjectStore`.

    One ``BlobServiceClient`` per store, shared by the engine's threads, with a connection
    pool of ``max_concurrency`` connections; large blobs move as parallel blocks/ranges.
    ``client_options`` reach ``BlobServiceClient`` (timeouts, transfer sizes).
    """

    #: Listing page size; ``None`` lets the service choose (up to 5,000). Tests lower it.
    results_per_page: int | None = None

    def __init__(self, container: str, credentials: AzureBlobCredentials, *,
                 max_concurrency: int = 16, **client_options: Any) -> None:
        if not container:
            raise StorageError("an Azure Blob Storage container name is required")
        self.container = container
        self.max_concurrency = max(1, int(max_concurrency))
        self.account = credentials.account_name
        options = {
            "max_single_put_size": SINGLE_PUT_SIZE, "max_block_size": BLOCK_SIZE,
            "max_single_get_size": SINGLE_GET_SIZE, "max_chunk_get_size": CHUNK_GET_SIZE,
            **client_options,
        }
        self._service = credentials.get_blob_service_client(self.max_concurrency, **options)
        self._client = self._service.get_container_client(container)

    @property
    def name(self) -> str:
        """``az://CONTAINER``, for messages and default folder names (never a credential)."""
        return f"az://{self.container}"

    def _error(self, exc: AzureError, action: str, key: str | None) -> StorageError:
        return translate(exc, store=f"{self.name} (account {self.account})", action=action,
                         key=key, endpoint=str(self._service.primary_hostname),
                         container=self.container)

    def _blob(self, key: str) -> BlobClient:
        # A "." or ".." segment is resolved away on the way to the service (and the request
        # signature then no longer matches), so such a name cannot address a blob.
        if any(part in (".", "..") for part in key.split("/")):
            raise UnsafePathError(
                f"{self.name}: blob name '{key}' has a '.' or '..' segment, which Azure "
                "cannot address")
        return self._client.get_blob_client(key)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Yield every blob under ``prefix``, page by page, skipping directory markers."""
        try:
            pages = self._client.list_blobs(
                name_starts_with=prefix or None, include=["metadata"],
                results_per_page=self.results_per_page,
            ).by_page()
            for page in pages:
                for blob in page:
                    if not _is_directory_marker(blob.name, blob.metadata):
                        yield ObjectInfo(key=blob.name, size=int(blob.size), etag=_etag(blob))
        except AzureError as exc:
            raise self._error(exc, "list", prefix) from exc

    def head(self, key: str) -> ObjectInfo | None:
        """Return the blob's size and etag, or ``None`` when there is no blob at ``key``."""
        try:
            props = self._blob(key).get_blob_properties()
        except ResourceNotFoundError as exc:
            if error_code(exc) == CONTAINER_NOT_FOUND:
                raise self._error(exc, "head", key) from exc
            return None
        except AzureError as exc:
            raise self._error(exc, "head", key) from exc
        if _is_directory_marker(key, props.metadata):
            return None
        return ObjectInfo(key=key, size=int(props.size), etag=_etag(props))

    def _download(self, key: str, byte_range: tuple[int, int] | None,
                  concurrency: int) -> StorageStreamDownloader[bytes] | None:
        """Start a download; ``None`` for an empty byte range of an existing blob."""
        offset, length = _range(byte_range)
        if length == 0:
            if self.head(key) is None:
                raise StorageNotFoundError(f"{self.name}: no blob at '{key}'")
            return None
        try:
            return self._blob(key).download_blob(
                offset=offset, length=length, max_concurrency=concurrency)
        except AzureError as exc:
            raise self._error(exc, "get", key) from exc

    def get(self, key: str, byte_range: tuple[int, int] | None = None) -> BinaryIO:
        """Return a stream of the blob (or bytes ``[start, end)``), read chunk by chunk."""
        downloader = self._download(key, byte_range, concurrency=1)
        if downloader is None:
            return io.BytesIO(b"")
        stream = TranslatingStream(
            downloader,
            lambda exc: self._error(exc, "read", key) if isinstance(exc, AzureError) else None)
        return cast(BinaryIO, io.BufferedReader(stream))

    def get_to_path(self, key: str, path: Path, byte_range: tuple[int, int] | None = None) -> None:
        """Download the blob (or a byte range) into ``path``, large blobs as parallel ranges."""
        downloader = self._download(key, byte_range, concurrency=self.max_concurrency)
        with open(path, "wb") as out:
            if downloader is None:
                return
            try:
                downloader.readinto(out)
            except AzureError as exc:
                raise self._error(exc, "get", key) from exc

    def put(self, key: str, data: bytes | Path) -> None:
        """Upload ``data`` to ``key`` (overwriting); large files go as parallel blocks."""
        blob = self._blob(key)
        try:
            if isinstance(data, Path):
                with open(data, "rb") as stream:
                    blob.upload_blob(stream, length=data.stat().st_size, overwrite=True,
                                     max_concurrency=self.max_concurrency)
            else:
                blob.upload_blob(bytes(data), overwrite=True, max_concurrency=self.max_concurrency)
        except AzureError as exc:
            raise self._error(exc, "put", key) from exc

    def delete(self, keys: Sequence[str]) -> None:
        """Delete ``keys`` in Blob Batch requests of up to 256; missing blobs are ignored.

        Where the account refuses batches (some account kinds and proxies do), the blobs
        are deleted one request each, in parallel.
        """
        unique = list(dict.fromkeys(keys))
        for key in unique:
            self._blob(key)  # refuses names Azure cannot address
        for start in range(0, len(unique), DELETE_BATCH_SIZE):
            batch = unique[start:start + DELETE_BATCH_SIZE]
            try:
                responses = list(self._client.delete_blobs(*batch, raise_on_any_failure=False))
            except HttpResponseError as exc:
                if not _batch_refused(exc):
                    raise self._error(exc, "delete", batch[0]) from exc
                self._delete_each(batch)
                continue
            except AzureError as exc:
                raise self._error(exc, "delete", batch[0]) from exc
            for key, response in zip(batch, responses, strict=False):
                status = response.status_code
                if status in (200, 202):
                    continue
                code = response.headers.get("x-ms-error-code")
                if status == 404 and code != CONTAINER_NOT_FOUND:
                    continue
                raise self._error(_batch_error(response), "delete", key)

    def _delete_each(self, keys: Sequence[str]) -> None:
        def delete_one(key: str) -> None:
            try:
                self._blob(key).delete_blob()
            except ResourceNotFoundError as exc:
                if error_code(exc) == CONTAINER_NOT_FOUND:
                    raise self._error(exc, "delete", key) from exc
            except AzureError as exc:
                raise self._error(exc, "delete", key) from exc

        with ThreadPoolExecutor(min(self.max_concurrency, len(keys)) or 1) as pool:
            list(pool.map(delete_one, keys))

    def abort_uploads(self, prefix: str, older_than_s: float) -> int:
        """Discard the staged blocks of never-committed blobs under ``prefix`` last written
        more than ``older_than_s`` seconds ago (a killed push's blocks, which Azure keeps
        and bills for a week); return how many blobs were discarded.

        Only a name with no committed blob is touched. Its blocks are dropped by committing
        an empty block list on condition that no blob exists (``If-None-Match: *``), and
        the empty blob that leaves is deleted on condition that it is still that one (its
        ETag): a blob a writer commits meanwhile is never lost. Blocks staged against an
        existing blob are left to the service, which drops them at the next write or after
        a week.
        """
        cutoff = time.time() - older_than_s
        try:
            # All names first, then the committed ones: a blob committed in between is
            # left out rather than mistaken for a staged one.
            every = [blob.name for blob in self._client.list_blobs(
                name_starts_with=prefix or None, include=["uncommittedblobs"],
                results_per_page=self.results_per_page)
                if blob.last_modified is not None and blob.last_modified.timestamp() <= cutoff]
            committed = {blob.name for blob in self._client.list_blobs(
                name_starts_with=prefix or None, results_per_page=self.results_per_page)}
        except AzureError as exc:
            raise self._error(exc, "list incomplete uploads", prefix or "/") from exc
        return sum(self._discard_staged(name) for name in every if name not in committed)

    def _discard_staged(self, key: str) -> bool:
        """Drop the uncommitted blocks of ``key`` (see :meth:`abort_uploads`)."""
        blob = self._blob(key)
        try:
            emptied = blob.commit_block_list([], match_condition=MatchConditions.IfMissing)
        except (ResourceExistsError, ResourceModifiedError):
            return False  # committed since the listing: a live blob, not ours to touch
        except AzureError as exc:
            raise self._error(exc, "discard staged blocks", key) from exc
        try:
            blob.delete_blob(etag=str(emptied["etag"]),
                             match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            pass  # rewritten or deleted by someone else since: theirs now
        except AzureError as exc:
            raise self._error(exc, "discard staged blocks", key) from exc
        return True

    def close(self) -> None:
        """Close the client, its connection pool, and a token credential's own session."""
        self._service.close()
        close_credential = getattr(self._service.credential, "close", None)
        if callable(close_credential):
            close_credential()


def _batch_refused(exc: HttpResponseError) -> bool:
    """Whether a failed batch request means "no batches here" rather than a real failure."""
    status = exc.status_code or 0
    code = error_code(exc)
    if status == 500:  # Azurite answers a SAS-authorised batch with a bare 500; Azure's
        return code is None  # own 500s carry an error code (InternalError, ...)
    return status in (400, 405, 501) and code != CONTAINER_NOT_FOUND


def _batch_error(response: Any) -> AzureError:
    error = HttpResponseError(response=response)
    error.error_code = response.headers.get("x-ms-error-code")  # type: ignore[attr-defined]
    if response.status_code == 404:
        return ResourceNotFoundError(response=response, error=error)
    return error


class AzureBlobStorage(ObjectStorageBlock):
    """A folder in an Azure Blob Storage container, for pushing and pulling flow code.

    ``AzureBlobStorage(container="code", credentials=AzureBlobCredentials.load("prod"),
    folder="etl")``; usable as ``flow.from_source(source=AzureBlobStorage.load("code"), ...)``.
    The directory and path methods are :class:`~stowflow.storage.ObjectStorageBlock`'s.
    """

    __block_type_name__ = "Azure Blob Storage"

    container: str = Field(description="The name of the blob container.")
    credentials: AzureBlobCredentials = Field(
        description="The Azure Blob Credentials block used to reach the container.")
    folder: str = Field(
        default="",
        description="The folder (blob name prefix) inside the container; '' for the whole "
        "container.")

    @field_validator("folder")
    @classmethod
    def _posix_folder(cls, value: str) -> str:
        return value.replace("\\", "/").strip("/")

    def object_store(self, max_concurrency: int = 16, **client_options: Any) -> AzureBlobObjectStore:
        """Return a new store for this block's container (close it, or use it in ``with``)."""
        return AzureBlobObjectStore(self.container, self.credentials,
                                    max_concurrency=max_concurrency, **client_options)


#: ``stowflow_object_store_for_url`` options passed on to the store and its client.
STORE_OPTIONS = ("max_concurrency", "connection_timeout", "read_timeout", "max_single_put_size",
                 "max_block_size", "max_single_get_size", "max_chunk_get_size")
_CREDENTIAL_FIELDS = ("connection_string", "account_url", "client_id", "tenant_id",
                      "client_secret")


def store_for_url(url: str, options: Mapping[str, Any]) -> AzureBlobObjectStore:
    """Return the store for ``az://CONTAINER/...`` or ``abfs[s]://CONTAINER[@ACCOUNT.dfs...]/...``.

    Credentials come from ``options["credentials"]`` (a block or a dict of its fields), or
    from credential fields given directly in ``options``, else from the environment
    (``AZURE_STORAGE_CONNECTION_STRING`` / ``AZURE_STORAGE_ACCOUNT_URL``), else — for an
    ``abfs://container@account.dfs.core.windows.net`` URL — the account's endpoint with
    ``DefaultAzureCredential``. Unknown options are refused with the list of known ones.
    """
    from stowflow.errors import ConfigError

    parsed = urllib.parse.urlsplit(url)
    unknown = sorted(set(options) - {"credentials", *_CREDENTIAL_FIELDS, *STORE_OPTIONS})
    if unknown:
        raise ConfigError(
            f"unknown option(s) for {parsed.scheme}:// storage: {', '.join(unknown)}",
            hint=f"known: credentials, {', '.join(_CREDENTIAL_FIELDS + STORE_OPTIONS)}")
    container, _, host = parsed.netloc.partition("@")
    if not container:
        raise ConfigError(f"{parsed.scheme}:// URL names no container: {url}",
                          hint=f"use {parsed.scheme}://CONTAINER/FOLDER")
    given = {k: options[k] for k in _CREDENTIAL_FIELDS if options.get(k) is not None}
    value = options.get("credentials")
    if value is None and given:
        value = given
    elif value is None and host and not (os.environ.get(CONNECTION_STRING_ENV)
                                         or os.environ.get(ACCOUNT_URL_ENV)):
        value = {"account_url": f"https://{host.split('.')[0]}.blob.core.windows.net"}
    settings = {k: options[k] for k in STORE_OPTIONS if k in options}
    return AzureBlobObjectStore(container, AzureBlobCredentials.coerce(value), **settings)
