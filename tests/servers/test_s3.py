"""Smoke tests of the moto S3 fixtures: the servers run, store bytes, and enforce IAM."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from stowflow.testing.servers.s3 import S3AuthServer, S3Server, s3_auth_enforced


def test_s3_server_round_trips_an_object(s3_server: S3Server) -> None:
    bucket = s3_server.create_bucket()
    s3_server.put_objects(bucket, {"a/b.txt": b"hello"})
    client = s3_server.client()
    assert client.get_object(Bucket=bucket, Key="a/b.txt")["Body"].read() == b"hello"
    assert s3_server.endpoint_url.startswith("http://127.0.0.1:")


def test_s3_bucket_fixture_is_new_and_empty(s3_server: S3Server, s3_bucket: str) -> None:
    listing = s3_server.client().list_objects_v2(Bucket=s3_bucket)
    assert listing["KeyCount"] == 0


def test_auth_server_enforces_iam_only_inside_the_block(s3_auth_server: S3AuthServer) -> None:
    bucket = s3_auth_server.create_bucket()
    s3_auth_server.put_objects(bucket, {"k": b"v"})
    key_id, secret = s3_auth_server.create_user({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
    })
    import boto3

    def client(key: str, secret_key: str):  # type: ignore[no-untyped-def]
        return boto3.client("s3", endpoint_url=s3_auth_server.endpoint_url,
                            aws_access_key_id=key, aws_secret_access_key=secret_key,
                            region_name=s3_auth_server.region)

    with s3_auth_enforced(s3_auth_server):
        user = client(key_id, secret)
        assert user.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
        with pytest.raises(ClientError) as denied:
            user.get_object(Bucket=bucket, Key="k")
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        with pytest.raises(ClientError) as unknown:
            client("AKIAUNKNOWNUNKNOWN00", "x" * 40).list_objects_v2(Bucket=bucket)
        assert unknown.value.response["Error"]["Code"] == "InvalidAccessKeyId"
        with pytest.raises(ClientError) as wrong:
            client(key_id, "wrong" * 8).list_objects_v2(Bucket=bucket)
        assert wrong.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    # Enforcement is off again: the admin keys of the set-up work once more.
    assert s3_auth_server.client().get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
