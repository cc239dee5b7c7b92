"""The core ObjectStore conformance suite, run through the sync engine against moto S3."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stowflow.testing.conformance import ObjectStoreConformance
from stowflow.testing.servers.s3 import S3Server
from stowflow_aws import AwsCredentials, S3ObjectStore

MiB = 1024 * 1024


class TestS3Conformance(ObjectStoreConformance):
    """Every engine behaviour on an S3 bucket, listing two keys per page."""

    # Above the 5 MiB multipart threshold below, so large files go up in parts (S3's
    # smallest part is 5 MiB) and come down as parallel ranged GETs.
    large_file_size = 6 * MiB

    @pytest.fixture
    def object_store(self, s3_server: S3Server,
                     credentials: AwsCredentials) -> Iterator[S3ObjectStore]:
        with S3ObjectStore(s3_server.create_bucket(), credentials=credentials,
                           max_concurrency=8, multipart_threshold=5 * MiB,
                           multipart_chunksize=5 * MiB, list_page_size=2) as store:
            yield store  # type: ignore[misc]
