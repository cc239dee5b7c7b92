"""The core ObjectStore conformance suite, run through the sync engine against Azurite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stowflow.testing.conformance import ObjectStoreConformance
from stowflow.testing.servers.azurite import AzuriteServer
from stowflow_azure import AzureBlobCredentials, AzureBlobObjectStore


class TestAzureBlobConformance(ObjectStoreConformance):
    """Every engine behaviour on an Azure container, listing two blobs per page."""

    # Only "//" survives in a blob name: URLs resolve ".." segments away, and the service
    # turns "\\" into "/". So a container can hold only this hostile name verbatim.
    hostile_keys = ("/abs",)

    @pytest.fixture
    def object_store(self, azurite_server: AzuriteServer,
                     credentials: AzureBlobCredentials) -> Iterator[AzureBlobObjectStore]:
        # small transfer sizes so the suite's large file moves as blocks and ranges
        with AzureBlobObjectStore(
            azurite_server.create_container(), credentials, max_concurrency=8,
            max_single_put_size=512 * 1024, max_block_size=256 * 1024,
            max_single_get_size=512 * 1024, max_chunk_get_size=256 * 1024,
        ) as store:
            store.results_per_page = 2
            yield store
