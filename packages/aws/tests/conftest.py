"""Fixtures of the stowflow-aws tests: credentials and stores on the moto S3 server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stowflow.testing.servers.s3 import S3Server
from stowflow_aws import AwsCredentials, S3ObjectStore

MiB = 1024 * 1024


@pytest.fixture
def credentials(s3_server: S3Server) -> AwsCredentials:
    """An AwsCredentials block for the moto server (endpoint on the block)."""
    return AwsCredentials(
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
        region_name=s3_server.region,
        aws_client_parameters={"endpoint_url": s3_server.endpoint_url},
    )


@pytest.fixture
def store(credentials: AwsCredentials, s3_bucket: str) -> Iterator[S3ObjectStore]:
    """An S3ObjectStore on a fresh bucket; multipart from 5 MiB (S3's smallest part)."""
    with S3ObjectStore(s3_bucket, credentials=credentials, max_concurrency=8,
                       multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB) as opened:
        yield opened  # type: ignore[misc]
