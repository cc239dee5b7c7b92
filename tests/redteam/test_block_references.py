"""Deleting a block another block refers to is refused (it left the other one unloadable:
"no block document with id ...")."""

from __future__ import annotations

import pytest
from stowflow.blocks import Block
from stowflow.blocks import documents as block_store
from stowflow.errors import BlockError
from stowflow_aws import AwsCredentials, S3Bucket


def test_referenced_block_cannot_be_deleted(fails_cleanly) -> None:
    AwsCredentials(aws_access_key_id="AKIA1", aws_secret_access_key="zzzz-secret").save("c1")
    S3Bucket(bucket_name="code", credentials=AwsCredentials.load("c1")).save("b1")
    message = fails_cleanly("block", "delete", "aws-credentials/c1")
    assert "'aws-credentials/c1' is used by s3-bucket/b1" in message
    bucket = Block.load("s3-bucket/b1")  # still whole
    assert bucket.credentials.aws_secret_access_key.get_secret_value() == "zzzz-secret"
    block_store.delete_document("s3-bucket", "b1")
    block_store.delete_document("aws-credentials", "c1")  # free once nothing refers to it
    with pytest.raises(BlockError):
        Block.load("aws-credentials/c1")
