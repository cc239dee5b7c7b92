"""Translating Azure SDK errors into stowflow's storage errors (one place for the mapping).

Messages name the store, the action and the key, plus the service's error code and HTTP
status; they never include the SDK's own message text or request URL, which may carry a
SAS token.
"""

from __future__ import annotations

from enum import Enum

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from stowflow.errors import (
    StorageAuthError,
    StorageError,
    StorageNotFoundError,
    StorageTransientError,
    StorageUnreachableError,
)
from stowflow.transfer.translate import status_error_class

CONTAINER_NOT_FOUND = "ContainerNotFound"


def error_code(exc: BaseException) -> str | None:
    """Return the service's error code (``BlobNotFound``, ``AuthorizationFailure``...), if any."""
    code = getattr(exc, "error_code", None)
    if code is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or {}
        code = headers.get("x-ms-error-code")
    if isinstance(code, Enum):  # the SDK's StorageErrorCode
        code = code.value
    return str(code) if code else None


def _detail(exc: AzureError) -> str:
    code = error_code(exc)
    status = getattr(exc, "status_code", None)
    parts = [code or type(exc).__name__]
    if status:
        parts.append(f"HTTP {status}")
    return ", ".join(parts)


def translate(exc: AzureError, *, store: str, action: str, key: str | None,
              endpoint: str, container: str) -> StorageError:
    """Return the stowflow error for an Azure SDK error; the caller raises it ``from exc``.

    ``ResourceNotFoundError``/404 → ``StorageNotFoundError`` (naming the container when it
    is the container that is missing); ``ClientAuthenticationError``/401/403 →
    ``StorageAuthError``; ``ServiceRequestError`` (no connection) →
    ``StorageUnreachableError``; timeouts, dropped responses and the statuses core's table
    calls retryable (5xx, 408, 412, 429) → ``StorageTransientError`` (the engine retries
    those); anything else → ``StorageError``.
    """
    where = f"{store}: {action}" + (f" '{key}'" if key else "")
    detail = _detail(exc)
    status = getattr(exc, "status_code", None)
    by_status = status_error_class(status)
    if isinstance(exc, ServiceRequestTimeoutError | ServiceResponseTimeoutError):
        return StorageTransientError(f"{where} timed out ({detail})")
    if isinstance(exc, ServiceRequestError):
        return StorageUnreachableError(
            f"{where} failed: cannot connect to {endpoint} ({detail})",
            hint="check the account URL or the connection string's BlobEndpoint, and the network",
        )
    if isinstance(exc, ServiceResponseError):
        return StorageTransientError(f"{where} failed: the connection dropped ({detail})")
    if isinstance(exc, ClientAuthenticationError) or by_status is StorageAuthError:
        return StorageAuthError(
            f"{where} was refused: the credentials were not accepted ({detail})",
            hint="check the account key, SAS token or identity, and that the identity has a "
            "Storage Blob Data role on the container",
        )
    if isinstance(exc, ResourceNotFoundError) or by_status is StorageNotFoundError:
        if error_code(exc) == CONTAINER_NOT_FOUND:
            return StorageNotFoundError(
                f"{where} failed: container '{container}' does not exist ({detail})",
                hint="create the container, or check its name and the storage account",
            )
        return StorageNotFoundError(f"{where} failed: not found ({detail})")
    if isinstance(exc, HttpResponseError) and by_status is StorageTransientError:
        return StorageTransientError(f"{where} failed: the service is busy or failing ({detail})")
    return StorageError(f"{where} failed ({detail})")
