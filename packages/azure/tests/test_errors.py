"""Failures a user meets, each one clear line with no secret: against Azurite, plus the mapping."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from pydantic import SecretStr
from stowflow.errors import (
    StorageAuthError,
    StorageError,
    StorageNotFoundError,
    StorageTransientError,
    StorageUnreachableError,
)
from stowflow.testing import assert_no_secret
from stowflow.testing.servers._process import free_port
from stowflow.testing.servers.azurite import AzuriteServer
from stowflow_azure import AzureBlobCredentials, AzureBlobObjectStore
from stowflow_azure._errors import translate


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


def test_missing_container(credentials: AzureBlobCredentials, azurite_server: AzuriteServer,
                           tmp_path: Path) -> None:
    with AzureBlobObjectStore("no-such-container", credentials) as store:
        for call in (lambda: list(store.list("code/")), lambda: store.get("code/x"),
                     lambda: store.head("code/x"), lambda: store.put("code/x", b"1"),
                     lambda: store.delete(["code/x"])):
            with pytest.raises(StorageNotFoundError) as info:
                call()
            text = _one_line(info.value)
            assert "container 'no-such-container' does not exist" in text
            assert_no_secret(azurite_server.account_key, text)


def test_bad_account_key(azurite_server: AzuriteServer, container: str) -> None:
    wrong_key = base64.b64encode(os.urandom(64)).decode()
    credentials = AzureBlobCredentials(
        connection_string=SecretStr(azurite_server.connection_string_with_key(wrong_key)))
    with AzureBlobObjectStore(container, credentials) as store, \
            pytest.raises(StorageAuthError) as info:
        list(store.list(""))
    text = _one_line(info.value)
    assert "credentials were not accepted" in text and "HTTP 403" in text
    assert isinstance(info.value.__cause__, ClientAuthenticationError | HttpResponseError)
    assert_no_secret(wrong_key, text, repr(info.value), info.value.hint or "")


# A guard against the SDK's default ~80 s of retries, not a speed measurement.
@pytest.mark.timeout(30)
def test_unreachable_endpoint(azurite_server: AzuriteServer) -> None:
    port = free_port()
    connection_string = azurite_server.connection_string.replace(
        f":{azurite_server.port}/", f":{port}/")
    credentials = AzureBlobCredentials(connection_string=SecretStr(connection_string))
    with AzureBlobObjectStore("code", credentials) as store, \
            pytest.raises(StorageUnreachableError) as info:
        store.put("x", b"1")
    text = _one_line(info.value)
    assert f"cannot connect to 127.0.0.1:{port}" in text
    assert isinstance(info.value.__cause__, ServiceRequestError)
    assert_no_secret(azurite_server.account_key, text)


# --- the mapping, unit level ---------------------------------------------------------


class _Response:
    def __init__(self, status: int, code: str | None = None) -> None:
        self.status_code = status
        self.reason = "reason"
        self.headers = {"x-ms-error-code": code} if code else {}
        self.request = None

    def text(self) -> str:
        return ""


def _http(cls: type[HttpResponseError], status: int, code: str | None = None) -> HttpResponseError:
    error = cls(message="secret-free", response=_Response(status, code))  # type: ignore[arg-type]
    error.error_code = code  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(("exc", "expected"), [
    (_http(ResourceNotFoundError, 404, "BlobNotFound"), StorageNotFoundError),
    (_http(ResourceNotFoundError, 404, "ContainerNotFound"), StorageNotFoundError),
    (_http(ClientAuthenticationError, 403, "AuthorizationFailure"), StorageAuthError),
    (_http(HttpResponseError, 403, "AuthorizationPermissionMismatch"), StorageAuthError),
    (_http(HttpResponseError, 401), StorageAuthError),
    (_http(HttpResponseError, 500, "InternalError"), StorageTransientError),
    (_http(HttpResponseError, 503, "ServerBusy"), StorageTransientError),
    (_http(HttpResponseError, 429), StorageTransientError),
    (_http(HttpResponseError, 408), StorageTransientError),
    (_http(HttpResponseError, 412, "ConditionNotMet"), StorageTransientError),
    (_http(HttpResponseError, 409, "ContainerBeingDeleted"), StorageError),
    (ServiceRequestError("refused"), StorageUnreachableError),
    (ServiceRequestTimeoutError("slow connect"), StorageTransientError),
    (ServiceResponseError("reset by peer"), StorageTransientError),
    (ServiceResponseTimeoutError("slow read"), StorageTransientError),
])
def test_sdk_errors_map_to_storage_errors(exc: Exception, expected: type[StorageError]) -> None:
    error = translate(exc, store="az://c (account a)", action="get", key="k",  # type: ignore[arg-type]
                      endpoint="host", container="c")
    assert type(error) is expected
    text = _one_line(error)
    assert text.startswith("az://c (account a): get 'k'")


def test_container_not_found_names_the_container() -> None:
    error = translate(_http(ResourceNotFoundError, 404, "ContainerNotFound"),
                      store="s", action="list", key="p/", endpoint="h", container="code")
    assert "container 'code' does not exist" in str(error)
    error = translate(_http(ResourceNotFoundError, 404, "BlobNotFound"),
                      store="s", action="get", key="p/x", endpoint="h", container="code")
    assert "container" not in str(error) and "'p/x'" in str(error)
