"""Translation of Google Cloud SDK failures into stowflow's storage errors.

One mapping for every GCS call the plugin makes, over core's status table
(:mod:`stowflow.transfer.translate`): 404 → ``StorageNotFoundError``; 401/403 and
refused or missing credentials → ``StorageAuthError``; refused connections, DNS and TLS
failures → ``StorageUnreachableError``; timeouts, resets, 408/429/5xx and corrupt transfers
(and 412) → ``StorageTransientError`` (the only kind the sync engine retries). The SDK exception is
chained as the cause; the message names the store and the key, and passes through the
shared redactor like every stowflow error.
"""

from __future__ import annotations

import contextlib
import re

from stowflow.errors import (
    StorageAuthError,
    StorageError,
    StorageNotFoundError,
    StorageTransientError,
    StorageUnreachableError,
)
from stowflow.transfer.translate import status_error_class, translating

_REQUEST_PREFIX = re.compile(r"^[A-Z]+ \S+: ")
_HINTS = {
    StorageNotFoundError: "check the bucket name and that the object exists",
    StorageAuthError: "check the GCP Credentials block: the key must be valid and its "
    "service account needs a Storage Object role on the bucket",
    StorageUnreachableError: "check the network, api_endpoint and STORAGE_EMULATOR_HOST",
}


def _is_connect_failure(exc: BaseException) -> bool:
    """Whether a requests/urllib3 connection error happened before any request was sent."""
    from urllib3.exceptions import NewConnectionError

    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, NewConnectionError | ConnectionRefusedError):
            return True
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
        stack.extend(arg for arg in item.args if isinstance(arg, BaseException))
    return False


def classify(exc: BaseException) -> tuple[type[StorageError], str] | None:
    """Return the stowflow error class for an SDK failure and a short reason, or ``None``.

    ``None`` means the exception is not an SDK or transport failure (a bug, a local I/O
    error) and should propagate unchanged.
    """
    import requests
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth
    from google.cloud.storage import exceptions as media

    if isinstance(exc, api.GoogleAPICallError):
        # The SDK prefixes the request ("GET https://…/o?…: "); the server's words suffice.
        message = _REQUEST_PREFIX.sub("", str(exc.message))
        reason = f"HTTP {exc.code}: {message}" if exc.code else message
        return status_error_class(exc.code), reason
    if isinstance(exc, api.RetryError):
        return StorageTransientError, f"gave up retrying: {exc.cause or exc}"
    if isinstance(exc, auth.DefaultCredentialsError):
        return StorageAuthError, f"no usable credentials: {exc}"
    if isinstance(exc, auth.RefreshError):
        # A token endpoint that answers 5xx marks the error retryable; a refusal does not.
        if getattr(exc, "retryable", False):
            return StorageTransientError, f"could not refresh the access token: {exc}"
        detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        return StorageAuthError, f"the credentials were refused: {detail}"
    if isinstance(exc, media.InvalidResponse):
        status = getattr(exc.response, "status_code", None)
        return status_error_class(status), f"HTTP {status}: {exc}"
    if isinstance(exc, media.DataCorruption):
        return StorageTransientError, f"checksum mismatch in transfer: {exc}"
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError | auth.TimeoutError):
        return StorageTransientError, f"timed out: {type(exc).__name__}"
    if isinstance(exc, requests.exceptions.SSLError):
        return StorageUnreachableError, f"TLS failure: {exc}"
    if isinstance(exc, requests.exceptions.ConnectionError | auth.TransportError | ConnectionError):
        if _is_connect_failure(exc):
            return StorageUnreachableError, "connection refused or host not found"
        return StorageTransientError, f"connection failed: {type(exc).__name__}: {exc}"
    return None


def translate(exc: BaseException, where: str, action: str) -> StorageError | None:
    """Return the stowflow error for ``exc`` raised while doing ``action`` at ``where``.

    ``where`` names the store and key (``gs://bucket/key``). ``None`` when ``exc`` is not
    an SDK failure.
    """
    found = classify(exc)
    if found is None:
        return None
    cls, reason = found
    # SDK messages span lines (the request, then the response's repr); keep the first.
    reason = next((line.strip(" :") for line in reason.splitlines() if line.strip(" :")), "")
    return cls(f"{where}: {action} failed: {reason}", hint=_HINTS.get(cls))


def translated(where: str, action: str) -> contextlib.AbstractContextManager[None]:
    """Run the block, re-raising SDK failures as stowflow errors with the cause chained."""
    return translating(lambda exc: translate(exc, where, action))
