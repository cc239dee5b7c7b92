"""S3 for stowflow: the ``S3Bucket`` storage block and the ``S3ObjectStore`` of the sync engine.

``S3ObjectStore`` is everything the core engine (:mod:`stowflow.transfer`) needs from S3:
paginated listing, ranged streaming reads, streamed writes (multipart through boto3's
transfer manager above a threshold), batched deletes and cheap heads. One boto3 client and
one transfer manager per store, shared by all the engine's threads, with a connection pool
sized to the concurrency. Every botocore failure is translated by :mod:`stowflow_aws._errors`.

``S3Bucket`` is the user-facing block: its fields and its store; the directory and path
methods are core's :class:`~stowflow.storage.ObjectStorageBlock` (through the engine).
"""

from __future__ import annotations

import io
import posixpath
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, cast

from pydantic import Field
from stowflow.errors import ConfigError, StorageError, StowflowError
from stowflow.storage import ObjectStorageBlock
from stowflow.transfer import ObjectInfo, ObjectStore
from stowflow.transfer.schemes import owned_by
from stowflow.transfer.translate import TranslatingStream

from stowflow_aws._errors import NOT_FOUND_CODES, raise_translated, translate
from stowflow_aws.credentials import AwsClientParameters, AwsCredentials

DISTRIBUTION = "stowflow-aws"
MiB = 1024 * 1024
# The engine already moves up to max_concurrency objects at once, so splitting an object
# pays only when it is big: below 64 MiB one PUT or GET per object is faster (measured on
# moto: 8 x 25 MB pushed in 4.5 s whole vs 8.2 s in 16 MiB parts; pulled in 0.6 s vs 1.2 s)
# and lighter on memory. Above it, parts go up and come down in parallel.
DEFAULT_MULTIPART_THRESHOLD = 64 * MiB
DEFAULT_MULTIPART_CHUNKSIZE = 16 * MiB
DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes


class S3ObjectStore(ObjectStore):
    """One S3 bucket (or S3-compatible bucket) as an :class:`~stowflow.transfer.ObjectStore`.

    Made once per operation and shared by its threads. ``credentials`` default to the
    ambient AWS chain; ``client_parameters`` refine the block's own (a step's endpoint,
    say). Objects of ``multipart_threshold`` bytes or more are uploaded and downloaded in
    ``multipart_chunksize`` parts, up to ``max_concurrency`` at a time. ``list_page_size``
    caps the keys per listing page (S3's own limit, 1,000, when ``None``).
    """

    def __init__(
        self,
        bucket: str,
        *,
        credentials: AwsCredentials | dict[str, Any] | None = None,
        client_parameters: AwsClientParameters | dict[str, Any] | None = None,
        max_concurrency: int = 16,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        multipart_chunksize: int = DEFAULT_MULTIPART_CHUNKSIZE,
        anonymous: bool = False,
        list_page_size: int | None = None,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ConfigError(f"invalid S3 bucket name {bucket!r}",
                              hint="give the bucket alone; put folders in the prefix")
        self.bucket = bucket
        self.max_concurrency = max_concurrency
        self.multipart_threshold = multipart_threshold
        self.multipart_chunksize = multipart_chunksize
        self.list_page_size = list_page_size
        self.credentials = AwsCredentials.coerce(credentials)
        # Engine threads make single-request calls while the transfer manager's threads
        # move parts, so the pool holds both without discarding connections.
        try:
            self.client = self.credentials.get_client(
                "s3", client_parameters=client_parameters,
                max_pool_connections=2 * max_concurrency, signed=not anonymous,
            )
        except StowflowError:
            raise  # already says what failed (a role that could not be assumed, ...)
        except Exception as exc:  # a profile that does not exist, a malformed endpoint, ...
            raise_translated(exc, self.name, "create client")
        self._manager: Any = None
        self._lock = threading.Lock()
        self._bucket_checked = False

    @property
    def name(self) -> str:
        """``s3://bucket``: the label in every message about this store."""
        return f"s3://{self.bucket}"

    # --- reading --------------------------------------------------------------------------

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Yield every object under ``prefix`` with its size and etag, page after page."""
        paginator = self.client.get_paginator("list_objects_v2")
        paging = {"PageSize": self.list_page_size} if self.list_page_size else {}
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix,
                                           PaginationConfig=paging):
                for item in page.get("Contents", ()):
                    yield ObjectInfo(item["Key"], int(item["Size"]), _etag(item.get("ETag")))
        except Exception as exc:
            raise_translated(exc, self.name, "list", prefix or "/")

    def head(self, key: str) -> ObjectInfo | None:
        """Return ``key``'s size and etag from one HEAD request, or ``None`` when it is absent.

        A 404 cannot tell a missing key from a missing bucket (HEAD has no body), so the
        first miss checks the bucket once; later misses cost nothing extra.
        """
        try:
            found = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if not _is_not_found(exc):
                raise_translated(exc, self.name, "head", key)
            self._check_bucket()
            return None
        return ObjectInfo(key, int(found["ContentLength"]), _etag(found.get("ETag")))

    def get(self, key: str, byte_range: tuple[int, int] | None = None) -> BinaryIO:
        """Return a stream of the object, or of its bytes ``[start, end)``, read as it arrives."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if byte_range is not None:
            start, end = byte_range
            if end <= start:
                if self.head(key) is None:
                    raise translate(_no_such_key(), self.name, "get", key)
                return io.BytesIO(b"")
            kwargs["Range"] = f"bytes={start}-{end - 1}"
        try:
            response = self.client.get_object(**kwargs)
        except Exception as exc:
            raise_translated(exc, self.name, "get", key)
        return cast(BinaryIO, _TranslatingStream(response["Body"], self.name, key))

    def get_to_path(self, key: str, path: Path, byte_range: tuple[int, int] | None = None) -> None:
        """Write the object (or a byte range) to ``path``; large objects in parallel parts."""
        if byte_range is not None:
            super().get_to_path(key, path, byte_range)
            return
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            raise_translated(exc, self.name, "get", key)
        body = _TranslatingStream(response["Body"], self.name, key)
        if int(response.get("ContentLength") or 0) >= self.multipart_threshold:
            body.close()  # one large object: parallel ranged GETs beat one stream
            try:
                self._transfer_manager().download(self.bucket, key, str(path)).result()
            except Exception as exc:
                raise_translated(exc, self.name, "download", key)
            return
        with body, open(path, "wb") as out:
            shutil.copyfileobj(body, out, MiB)

    # --- writing --------------------------------------------------------------------------

    def put(self, key: str, data: bytes | Path) -> None:
        """Store ``data`` at ``key``: one request when small, a multipart upload when large."""
        try:
            size = len(data) if isinstance(data, bytes) else Path(data).stat().st_size
            if size >= self.multipart_threshold:
                source: Any = io.BytesIO(data) if isinstance(data, bytes) else str(data)
                self._transfer_manager().upload(source, self.bucket, key).result()
            elif isinstance(data, bytes):
                self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
            else:
                with open(data, "rb") as body:  # streamed; seekable, so botocore can retry
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
        except OSError as exc:
            if isinstance(data, Path) and not Path(data).is_file():
                raise StorageError(f"{self.name}: put '{key}' failed: cannot read {data}: "
                                   f"{exc}") from exc
            raise_translated(exc, self.name, "put", key)
        except Exception as exc:
            raise_translated(exc, self.name, "put", key)

    def delete(self, keys: Sequence[str]) -> None:
        """Delete ``keys`` in batches of 1,000 per request; absent keys are fine."""
        keys = list(keys)
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start:start + DELETE_BATCH]
            try:
                response = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            except Exception as exc:
                raise_translated(exc, self.name, "delete", batch[0])
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise translate(_client_error(first.get("Code"), first.get("Message"), 0,
                                              "DeleteObjects"),
                                self.name, "delete", first.get("Key"))

    def abort_uploads(self, prefix: str, older_than_s: float) -> int:
        """Abort the multipart uploads under ``prefix`` initiated more than ``older_than_s``
        seconds ago (a killed push's parts, which S3 keeps and bills until aborted)."""
        cutoff = time.time() - older_than_s
        aborted = 0
        try:
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for upload in page.get("Uploads", ()):
                    if upload["Initiated"].timestamp() > cutoff:
                        continue
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                    aborted += 1
        except Exception as exc:
            raise_translated(exc, self.name, "abort incomplete uploads", prefix or "/")
        return aborted

    def close(self) -> None:
        """Shut the transfer manager down and close the client's connections."""
        with self._lock:
            manager, self._manager = self._manager, None
        if manager is not None:
            manager.shutdown()
        self.client.close()

    # --- helpers --------------------------------------------------------------------------

    def _transfer_manager(self) -> Any:
        with self._lock:
            if self._manager is None:
                from boto3.s3.transfer import TransferConfig, create_transfer_manager

                config = TransferConfig(
                    multipart_threshold=self.multipart_threshold,
                    multipart_chunksize=self.multipart_chunksize,
                    max_concurrency=self.max_concurrency,
                    preferred_transfer_client="classic",
                )
                self._manager = create_transfer_manager(self.client, config)
            return self._manager

    def _check_bucket(self) -> None:
        if self._bucket_checked:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            if _is_not_found(exc):
                exc = _client_error("NoSuchBucket", "The specified bucket does not exist",
                                    404, "HeadBucket")
            raise_translated(exc, self.name, "head bucket")
        self._bucket_checked = True


class _TranslatingStream(TranslatingStream):
    """A botocore response body whose read errors arrive as stowflow storage errors."""

    def __init__(self, body: Any, store: str, key: str) -> None:
        super().__init__(body, lambda exc: translate(cast(Exception, exc), store, "read", key))


def _etag(value: str | None) -> str | None:
    return value.strip('"') if value else None


def _is_not_found(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    code = str(exc.response.get("Error", {}).get("Code") or "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in NOT_FOUND_CODES or status == 404


def _no_such_key() -> Exception:
    return _client_error("NoSuchKey", "The specified key does not exist.", 404, "HeadObject")


def _client_error(code: str | None, message: str | None, status: int, operation: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": code or "Unknown", "Message": message or ""},
         "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


# --- the block ------------------------------------------------------------------------------


class S3Bucket(ObjectStorageBlock):
    """An S3 bucket (and optional folder in it) that holds a deployment's code.

    ``get_directory`` / ``put_directory`` / ``read_path`` / ``write_path`` are
    :class:`~stowflow.storage.ObjectStorageBlock`'s, over :meth:`object_store`.
    """

    __block_type_name__ = "S3 Bucket"
    folder_field = "bucket_folder"

    bucket_name: str = Field(description="Name of the bucket.")
    credentials: AwsCredentials = Field(
        default_factory=AwsCredentials,
        description="AWS credentials and client settings; empty for the ambient AWS chain.",
    )
    bucket_folder: str = Field(
        default="", description="Folder in the bucket that every path is relative to.",
    )

    def object_store(self, **options: Any) -> S3ObjectStore:
        """Return a new :class:`S3ObjectStore` on this bucket (close it when done)."""
        return S3ObjectStore(self.bucket_name, credentials=self.credentials, **options)


def join_key(*parts: str) -> str:
    """Join folder parts into one POSIX key without leading, trailing or doubled slashes."""
    cleaned = [p.strip("/") for p in parts if p and p.strip("/")]
    return posixpath.join(*cleaned) if cleaned else ""


# --- URLs -----------------------------------------------------------------------------------


def split_url(url: str) -> tuple[str, str]:
    """Return ``(bucket, prefix)`` of ``s3://bucket/prefix`` (or ``s3a://``)."""
    from stowflow.transfer import split_url as split_store_url

    if not owned_by(url, DISTRIBUTION):
        raise ConfigError(f"not an S3 URL: {url!r}", hint="use s3://bucket/folder")
    root, prefix = split_store_url(url)
    bucket = root.split("://", 1)[1]
    if not bucket:
        raise ConfigError(f"no bucket in {url!r}", hint="use s3://bucket/folder")
    return bucket, prefix


_STORE_OPTIONS = {"credentials", "client_parameters", "endpoint_url", "max_concurrency",
                  "multipart_threshold", "multipart_chunksize", "anon", "key", "secret",
                  "token", "profile", "client_kwargs"}


def store_for_url(url: str, options: dict[str, Any]) -> S3ObjectStore:
    """Return an :class:`S3ObjectStore` for the bucket of an ``s3://`` URL.

    ``options`` may carry ``credentials`` (an ``AwsCredentials`` block or its data),
    ``client_parameters``, ``endpoint_url``, ``max_concurrency``, and the s3fs-style
    settings a ``pull_from_remote_storage`` step passes (``key``, ``secret``, ``token``,
    ``profile``, ``anon``, ``client_kwargs={"endpoint_url", "region_name"}``).
    """
    unknown = sorted(set(options) - _STORE_OPTIONS)
    if unknown:
        raise ConfigError(f"unknown S3 option(s) for {url}: {', '.join(unknown)}",
                          hint=f"known options: {', '.join(sorted(_STORE_OPTIONS))}")
    bucket, _ = split_url(url)
    credentials = AwsCredentials.coerce(options.get("credentials"))
    client_kwargs = dict(options.get("client_kwargs") or {})
    fields = {
        "aws_access_key_id": options.get("key"),
        "aws_secret_access_key": options.get("secret"),
        "aws_session_token": options.get("token"),
        "profile_name": options.get("profile"),
        "region_name": client_kwargs.pop("region_name", None),
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    if fields:
        credentials = AwsCredentials.model_validate(
            {**credentials.model_dump(exclude_none=True), **fields}
        )
    parameters = AwsClientParameters.model_validate(options.get("client_parameters") or {})
    endpoint = options.get("endpoint_url") or client_kwargs.pop("endpoint_url", None)
    if endpoint:
        parameters = parameters.merged({"endpoint_url": endpoint})
    if client_kwargs:
        raise ConfigError(f"unknown client_kwargs for {url}: {', '.join(sorted(client_kwargs))}",
                          hint="client_kwargs takes endpoint_url and region_name")
    tuning = {k: options[k] for k in ("max_concurrency", "multipart_threshold",
                                      "multipart_chunksize") if k in options}
    explicit = parameters.model_dump(exclude_unset=True, exclude_none=True)
    return S3ObjectStore(bucket, credentials=credentials, client_parameters=explicit or None,
                         anonymous=bool(options.get("anon")), **tuning)
