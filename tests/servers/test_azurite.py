"""Smoke test of the ``azurite_server`` fixture: a real Azurite blob service on 127.0.0.1."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.storage.blob import BlobServiceClient
from stowflow.testing.servers.azurite import (
    ACCOUNT_NAME,
    AzuriteServer,
    azurite_dir,
    install_azurite,
)


def test_blob_round_trip(azurite_server: AzuriteServer) -> None:
    assert azurite_server.blob_endpoint.startswith("http://127.0.0.1:")
    assert azurite_server.blob_endpoint.endswith(f"/{ACCOUNT_NAME}")
    container = azurite_server.create_container()
    with BlobServiceClient.from_connection_string(azurite_server.connection_string) as client:
        blob = client.get_blob_client(container, "dir/hello.txt")
        blob.upload_blob(b"hello azurite")
        assert blob.download_blob().readall() == b"hello azurite"
        names = [b.name for b in client.get_container_client(container).list_blobs()]
    assert names == ["dir/hello.txt"]


def test_containers_are_unique(azurite_server: AzuriteServer) -> None:
    assert azurite_server.create_container() != azurite_server.create_container()
    assert azurite_server.create_container("named-one") == "named-one"


def test_wrong_account_key_is_refused(azurite_server: AzuriteServer) -> None:
    container = azurite_server.create_container()
    wrong = azurite_server.connection_string_with_key("d3Jvbmcta2V5LXdyb25nLWtleQ==")
    with (
        BlobServiceClient.from_connection_string(wrong) as client,
        pytest.raises((ClientAuthenticationError, HttpResponseError)) as info,
    ):
        list(client.get_container_client(container).list_blobs())
    assert getattr(info.value, "status_code", None) == 403


def test_install_is_cached(azurite_server: AzuriteServer) -> None:
    # the fixture installed it; a second call finds it under the lock without npm
    assert install_azurite() == azurite_dir() / "node_modules" / ".bin" / "azurite-blob"
    assert install_azurite().exists()
