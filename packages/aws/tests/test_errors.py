"""Failures users meet, from the real server: one clear line each, never a secret in it."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError
from stowflow.errors import (
    StorageAuthError,
    StorageError,
    StorageNotFoundError,
    StorageTransientError,
    StorageUnreachableError,
)
from stowflow.testing import assert_no_secret
from stowflow.testing.servers._process import free_port
from stowflow.testing.servers.s3 import S3AuthServer, S3Server, s3_auth_enforced
from stowflow_aws import AwsCredentials, S3ObjectStore
from stowflow_aws._errors import translate

READ_ONLY_LISTING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
}


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text, text
    return text


def creds(endpoint: str, key: str = "testing", secret: str = "testing") -> AwsCredentials:
    return AwsCredentials(aws_access_key_id=key, aws_secret_access_key=secret,
                          region_name="us-east-1",
                          aws_client_parameters={"endpoint_url": endpoint,
                                                 "retries": {"max_attempts": 1}})


def test_missing_bucket(s3_server: S3Server) -> None:
    secret = "missing-bucket-secret-value"
    store = S3ObjectStore("no-such-bucket", credentials=creds(s3_server.endpoint_url, secret=secret))
    with store, pytest.raises(StorageNotFoundError) as caught:
        list(store.list("code/"))
    text = one_line(caught.value)
    assert text.startswith("s3://no-such-bucket: list 'code/' failed: the bucket does not exist")
    assert isinstance(caught.value.__cause__, ClientError)
    assert_no_secret(secret, text, repr(caught.value))


def test_access_denied(s3_auth_server: S3AuthServer) -> None:
    bucket = s3_auth_server.create_bucket()
    s3_auth_server.put_objects(bucket, {"code/HEAD": b"v1"})
    key_id, secret = s3_auth_server.create_user(READ_ONLY_LISTING)
    with s3_auth_enforced(s3_auth_server), S3ObjectStore(
        bucket, credentials=creds(s3_auth_server.endpoint_url, key_id, secret)
    ) as store:
        assert [i.key for i in store.list("code/")] == ["code/HEAD"]  # the key itself works
        with pytest.raises(StorageAuthError) as caught:
            store.get_bytes("code/HEAD")
    text = one_line(caught.value)
    assert f"s3://{bucket}: get 'code/HEAD' failed: access refused (AccessDenied" in text
    assert_no_secret(secret, text, repr(caught.value))


@pytest.mark.parametrize("problem", ["unknown key", "wrong secret"])
def test_bad_credentials(s3_auth_server: S3AuthServer, problem: str) -> None:
    bucket = s3_auth_server.create_bucket()
    key_id, secret = s3_auth_server.create_user(READ_ONLY_LISTING)
    if problem == "unknown key":
        key_id = "AKIA" + "Z" * 16
    else:
        secret = "not-the-right-secret-" + "q" * 19
    with s3_auth_enforced(s3_auth_server), S3ObjectStore(
        bucket, credentials=creds(s3_auth_server.endpoint_url, key_id, secret)
    ) as store, pytest.raises(StorageAuthError) as caught:
        list(store.list(""))
    text = one_line(caught.value)
    code = "InvalidAccessKeyId" if problem == "unknown key" else "SignatureDoesNotMatch"
    assert f"access refused ({code}" in text
    assert "check the AWS credentials" in text
    assert_no_secret(secret, text, repr(caught.value))


def test_unreachable_endpoint() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    secret = "unreachable-secret-value"
    store = S3ObjectStore("bucket", credentials=creds(endpoint, secret=secret))
    with store, pytest.raises(StorageUnreachableError) as caught:
        store.put("code/a.txt", b"x")
    text = one_line(caught.value)
    assert text.startswith("s3://bucket: put 'code/a.txt' failed: endpoint unreachable")
    assert "check the endpoint URL" in text
    assert_no_secret(secret, text, repr(caught.value))


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


@pytest.mark.parametrize(("exc", "expected"), [
    (client_error("NoSuchKey", 404), StorageNotFoundError),
    (client_error("404", 404), StorageNotFoundError),
    (client_error("AccessDenied", 403), StorageAuthError),
    (client_error("403", 403), StorageAuthError),
    (client_error("ExpiredToken", 400), StorageAuthError),
    (client_error("SlowDown", 503), StorageTransientError),
    (client_error("Throttling", 400), StorageTransientError),
    (client_error("InternalError", 500), StorageTransientError),
    (client_error("WhateverBroke", 502), StorageTransientError),
    (client_error("InvalidRange", 416), StorageError),
    (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), StorageUnreachableError),
    (ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"), StorageTransientError),
])
def test_error_mapping(exc: Exception, expected: type[StorageError]) -> None:
    # Conditions the local server cannot be made to produce (throttling, 5xx) are mapped
    # by the same function; only the mapping is checked here.
    error = translate(exc, "s3://b", "get", "k")
    assert type(error) is expected
    assert one_line(error).startswith("s3://b: get 'k' failed")
