"""Translation of botocore's failures into stowflow's storage errors (one place, every call).

What a status means is core's rule table (:mod:`stowflow.transfer.translate`); S3's error
codes, which can arrive with a misleading status, decide first. The engine retries only :class:`~stowflow.errors.StorageTransientError`, so the mapping
decides what is retried: throttling, timeouts, resets and 5xx are; missing buckets, refused
credentials and unreachable endpoints are not. Messages name the store, the action and the
key; they carry the server's error code and message, never a credential (and pass through
the shared redactor in any case).
"""

from __future__ import annotations

from typing import NoReturn

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ProxyConnectionError,
    SSLError,
)
from stowflow.errors import (
    StorageAuthError,
    StorageError,
    StorageNotFoundError,
    StorageTransientError,
    StorageUnreachableError,
)
from stowflow.transfer.translate import exception_error_class, status_error_class

NOT_FOUND_CODES = frozenset({"NoSuchBucket", "NoSuchKey", "NotFound", "404", "NoSuchUpload"})
AUTH_CODES = frozenset({
    "AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
    "InvalidToken", "TokenRefreshRequired", "AllAccessDisabled", "AccountProblem",
    "InvalidClientTokenId", "UnrecognizedClientException", "AuthorizationHeaderMalformed",
})
TRANSIENT_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "ThrottledException",
    "RequestThrottled", "RequestLimitExceeded", "TooManyRequestsException",
    "ProvisionedThroughputExceededException", "RequestTimeout", "RequestTimeoutException",
    "InternalError", "ServiceUnavailable", "BandwidthLimitExceeded", "PriorRequestNotComplete",
    "IDPCommunicationError", "EC2ThrottledException",
})

_AUTH_HINT = "check the AWS credentials and that they may use this bucket"
_UNREACHABLE_HINT = "check the endpoint URL, the network and any proxy"


def _code_class(code: str) -> type[StorageError] | None:
    """The class S3's error code alone decides (codes come with misleading statuses: 400)."""
    if code in NOT_FOUND_CODES:
        return StorageNotFoundError
    if code in AUTH_CODES:
        return StorageAuthError
    if code in TRANSIENT_CODES:
        return StorageTransientError
    return None


def _text(value: object) -> str:
    # botocore's messages can span lines (parameter validation); an error is one line.
    return " ".join(str(value).split())


def _where(store: str, action: str, key: str | None) -> str:
    return f"{store}: {action} '{key}'" if key else f"{store}: {action}"


def translate(exc: Exception, store: str, action: str, key: str | None = None) -> StorageError:
    """Return the stowflow error for a botocore/boto3 exception met doing ``action`` on ``key``.

    ``store`` is the store's name (``s3://bucket``). Callers ``raise translate(...) from exc``
    so the SDK's exception stays chained as the cause.
    """
    where = _where(store, action, key)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        detail = f"{code}: {_text(error.get('Message'))}" if error.get("Message") else code
        if code == "NoSuchBucket":
            return StorageNotFoundError(f"{where} failed: the bucket does not exist ({detail})",
                                        hint="check the bucket name and the endpoint/region")
        cls = _code_class(code) or status_error_class(status)
        if cls is StorageNotFoundError:
            return StorageNotFoundError(f"{where} failed: not found ({detail})")
        if cls is StorageAuthError:
            return StorageAuthError(f"{where} failed: access refused ({detail})",
                                    hint=_AUTH_HINT)
        if cls is StorageTransientError:
            return StorageTransientError(f"{where} failed: {detail or status} (retryable)")
        return StorageError(f"{where} failed: {detail or status}")
    if isinstance(exc, ConnectTimeoutError):
        # A timeout is retryable for every provider (core's EXCEPTION_RULES; Azure's
        # ServiceRequestTimeoutError, GCP's requests Timeout): only a refused connection or
        # an unknown host is unreachable.
        return StorageTransientError(f"{where} failed: timed out connecting ({_text(exc)}) "
                                     "(retryable)")
    if isinstance(exc, EndpointConnectionError | ProxyConnectionError | SSLError):
        return StorageUnreachableError(f"{where} failed: endpoint unreachable ({_text(exc)})",
                                       hint=_UNREACHABLE_HINT)
    if isinstance(exc, HTTPClientError | IncompleteReadError):
        # read timeouts, connections closed or reset mid-response, truncated bodies
        return StorageTransientError(f"{where} failed: {type(exc).__name__}: {_text(exc)} (retryable)")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | ProfileNotFound
                  | CredentialRetrievalError):
        return StorageAuthError(
            f"{where} failed: {_text(exc)}",
            hint="give an AwsCredentials block, or configure the ambient AWS credentials "
            "(environment, ~/.aws, instance role)",
        )
    if isinstance(exc, BotoCoreError):
        return StorageError(f"{where} failed: {type(exc).__name__}: {_text(exc)}")
    if exception_error_class(exc) is StorageTransientError:
        return StorageTransientError(f"{where} failed: {type(exc).__name__}: {_text(exc)} (retryable)")
    return StorageError(f"{where} failed: {type(exc).__name__}: {_text(exc)}")


def raise_translated(exc: Exception, store: str, action: str, key: str | None = None) -> NoReturn:
    """Raise :func:`translate`'s error for ``exc`` with ``exc`` chained as its cause."""
    raise translate(exc, store, action, key) from exc
