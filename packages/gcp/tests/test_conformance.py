"""The core ObjectStore conformance suite, run against GcsObjectStore on fake-gcs-server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stowflow.testing.conformance import ObjectStoreConformance
from stowflow.testing.servers.gcs import GcsServer
from stowflow_gcp import GcpCredentials, GcsObjectStore


class TestGcsConformance(ObjectStoreConformance):
    """Every engine behaviour on a fresh bucket, with small pages and resumable chunks."""

    @pytest.fixture
    def object_store(self, gcs_server: GcsServer) -> Iterator[GcsObjectStore]:
        credentials = GcpCredentials(api_endpoint=gcs_server.endpoint, project=gcs_server.project)
        # Three objects per listing page and 1 MiB thresholds, so listings page and the
        # suite's large file goes up in 256 KiB resumable chunks and comes down in slices.
        with GcsObjectStore(gcs_server.create_bucket(), credentials, page_size=3,
                            chunk_size=256 * 1024, resumable_threshold=1024 * 1024,
                            sliced_download_threshold=1024 * 1024, download_workers=3) as store:
            yield store
