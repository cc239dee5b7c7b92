"""Fixtures of the stowflow-azure tests: credentials, containers and stores on Azurite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from stowflow.testing.servers.azurite import AzuriteServer
from stowflow_azure import AzureBlobCredentials, AzureBlobObjectStore


@pytest.fixture
def credentials(azurite_server: AzuriteServer) -> AzureBlobCredentials:
    """Connection-string credentials for Azurite's development account."""
    return AzureBlobCredentials(connection_string=SecretStr(azurite_server.connection_string))


@pytest.fixture
def container(azurite_server: AzuriteServer) -> str:
    """A fresh, empty container."""
    return azurite_server.create_container()


@pytest.fixture
def store(container: str, credentials: AzureBlobCredentials) -> Iterator[AzureBlobObjectStore]:
    """A store on a fresh container, listing two blobs per page so pagination is exercised."""
    with AzureBlobObjectStore(container, credentials, max_concurrency=4) as store:
        store.results_per_page = 2
        yield store
