"""Failures a user meets with GCS: one clear line each, the right class, no secret in it."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from google.api_core import exceptions as api
from stowflow.errors import (
    StorageAuthError,
    StorageError,
    StorageNotFoundError,
    StorageTransientError,
    StorageUnreachableError,
)
from stowflow.testing import assert_no_secret
from stowflow.testing.servers._process import free_port
from stowflow.testing.servers.gcs import GcsServer
from stowflow_gcp import GcpCredentials, GcsObjectStore
from stowflow_gcp._errors import translate


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text, text
    return text


def test_missing_bucket(emulator_credentials: GcpCredentials) -> None:
    with GcsObjectStore("no-such-bucket", emulator_credentials) as store, \
            pytest.raises(StorageNotFoundError) as missing:
        list(store.list("code/"))
    assert one_line(missing.value).startswith("gs://no-such-bucket/code/: list failed: HTTP 404")
    assert isinstance(missing.value.__cause__, api.NotFound)


def test_refused_credentials(gcs_server: GcsServer, gcs_bucket: str,
                             service_account_info: dict[str, Any]) -> None:
    # fake-gcs-server checks no credentials, so the refusal comes from the real OAuth flow:
    # a well-formed key whose token endpoint (the emulator) will not mint a token for it.
    credentials = GcpCredentials(service_account_info=service_account_info,
                                 api_endpoint=gcs_server.endpoint)
    with GcsObjectStore(gcs_bucket, credentials) as store, \
            pytest.raises(StorageAuthError) as refused:
        store.put("code/a.txt", b"x")
    text = one_line(refused.value)
    assert text.startswith(f"gs://{gcs_bucket}/code/a.txt: upload failed: the credentials were refused")
    for secret in (service_account_info["private_key"], service_account_info["private_key_id"]):
        assert_no_secret(secret, text, repr(refused.value.__cause__))
    assert gcs_server.object_names(gcs_bucket) == []


def test_unreachable_endpoint_fails_fast(emulator_credentials: GcpCredentials) -> None:
    dead = emulator_credentials.model_copy(
        update={"api_endpoint": f"http://127.0.0.1:{free_port()}"})
    started = time.monotonic()
    with GcsObjectStore("any-bucket", dead) as store, \
            pytest.raises(StorageUnreachableError) as unreachable:
        store.get_bytes("k")
    assert time.monotonic() - started < 5, "no SDK retry loop in front of the engine's"
    assert one_line(unreachable.value).startswith(
        "gs://any-bucket/k: download failed: connection refused or host not found")
    assert isinstance(unreachable.value.__cause__, requests.exceptions.ConnectionError)


# --- the mapping table, with the SDK's own error objects (a unit test: the emulator cannot
# --- answer 401, 403, 429 or 5xx on demand) ----------------------------------------------------


def _response(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = b'{"error": {"message": "from the server"}}'
    response.request = requests.Request("GET", "https://storage.googleapis.com/b/o").prepare()
    return response


@pytest.mark.parametrize(("status", "expected"), [
    (400, StorageError), (401, StorageAuthError), (403, StorageAuthError),
    (404, StorageNotFoundError), (408, StorageTransientError), (429, StorageTransientError),
    (500, StorageTransientError), (502, StorageTransientError), (503, StorageTransientError),
])
def test_http_status_mapping(status: int, expected: type[StorageError]) -> None:
    sdk_error = api.from_http_response(_response(status))
    error = translate(sdk_error, "gs://b/k", "download")
    assert type(error) is expected
    assert one_line(error).startswith(f"gs://b/k: download failed: HTTP {status}")


def test_transport_mapping() -> None:
    from google.auth.exceptions import RefreshError

    timeout = translate(requests.exceptions.ReadTimeout("read timed out"), "gs://b/k", "download")
    reset = translate(requests.exceptions.ConnectionError(ConnectionResetError(104, "reset")),
                      "gs://b/k", "download")
    retryable_refresh = RefreshError("token endpoint 503", retryable=True)
    assert type(timeout) is StorageTransientError
    assert type(reset) is StorageTransientError
    assert type(translate(retryable_refresh, "gs://b", "list")) is StorageTransientError
    assert type(translate(RefreshError("invalid_grant"), "gs://b", "list")) is StorageAuthError
    assert translate(KeyError("not an SDK failure"), "gs://b", "list") is None
