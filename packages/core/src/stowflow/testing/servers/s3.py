"""Real-server fixtures for S3: moto's standalone server on 127.0.0.1.

- ``s3_server`` (session): a moto server that accepts any credentials, like a laptop MinIO.
  :class:`S3Server` carries the endpoint, the ``testing`` keys and the region, and makes
  buckets and clients.
- ``s3_auth_server`` (session, started only when a test asks for it): a second moto server
  that enforces IAM. Its users are made with :meth:`S3AuthServer.create_user` from a policy,
  so "access denied", "unknown access key" and "wrong secret" are the real server's own
  answers, not mocks.

boto3 is imported inside functions: this module is loaded as a pytest plugin by every
stowflow test session, including those of packages that never touch S3.
"""

from __future__ import annotations

import contextlib
import json
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from stowflow.testing.servers._process import ServerProcess, free_port

ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
REGION = "us-east-1"

# moto reads these at start-up; a developer's own AWS settings must not leak into it.
_SERVER_ENV = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    "AWS_DEFAULT_REGION": REGION,
    "MOTO_ALLOW_NONEXISTENT_REGION": "false",
}


def start_moto(*, enforce_auth: bool = False) -> ServerProcess:
    """Start ``python -m moto.server`` on a free 127.0.0.1 port and wait until it listens."""
    port = free_port()
    env = dict(_SERVER_ENV)
    if enforce_auth:
        # Authentication is switched on after set-up through /moto-api/reset-auth, so the
        # set-up requests (users, keys, buckets) need no credentials of their own.
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "inf"
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return ServerProcess(argv, port, env=env).start(timeout=60)


@dataclass
class S3Server:
    """A running moto S3 server and the settings a client needs to reach it."""

    process: ServerProcess
    access_key_id: str = ACCESS_KEY_ID
    secret_access_key: str = SECRET_ACCESS_KEY
    region: str = REGION

    @property
    def endpoint_url(self) -> str:
        """The server's base URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.process.port}"

    def client_kwargs(self) -> dict[str, Any]:
        """Return the keyword arguments of ``boto3.client("s3", ...)`` for this server."""
        return {
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "region_name": self.region,
        }

    def client(self, service: str = "s3") -> Any:
        """Return a fresh boto3 client for ``service`` on this server (moto serves them all)."""
        import boto3

        return boto3.client(service, **self.client_kwargs())

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh unique name by default) and return its name."""
        bucket = name or f"test-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket

    def put_objects(self, bucket: str, objects: dict[str, bytes]) -> None:
        """Write ``{key: bytes}`` into ``bucket`` directly (to set up what a test reads)."""
        client = self.client()
        for key, body in objects.items():
            client.put_object(Bucket=bucket, Key=key, Body=body)


@dataclass
class S3AuthServer(S3Server):
    """A moto server that enforces IAM: only keys of users made here are accepted."""

    def create_user(self, policy: dict[str, Any]) -> tuple[str, str]:
        """Create an IAM user with ``policy`` inline; return its ``(access_key_id, secret)``.

        Must be called before :meth:`enforce` (or while the test still has admin keys).
        """
        iam = self.client("iam")
        name = f"user-{uuid.uuid4().hex[:12]}"
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="test", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def set_auth(self, enforced: bool) -> None:
        """Switch IAM enforcement on (every later request is checked) or off."""
        data = b"0" if enforced else b"inf"
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/reset-auth", data=data, method="POST",
            # not form-encoded, or the server parses the body away from request.data
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server on 127.0.0.1 for the whole test session (any credentials accepted)."""
    process = start_moto()
    try:
        yield S3Server(process)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def s3_auth_server() -> Iterator[S3AuthServer]:
    """A second moto server that enforces IAM; set up users and buckets, then ``set_auth(True)``.

    Tests that use it switch enforcement on for their own checks and off again afterwards
    (``with`` the :func:`s3_auth_enforced` helper), so their order does not matter.
    """
    process = start_moto(enforce_auth=True)
    try:
        yield S3AuthServer(process)
    finally:
        process.stop()


@contextlib.contextmanager
def s3_auth_enforced(server: S3AuthServer) -> Iterator[S3AuthServer]:
    """Switch IAM enforcement on for the ``with`` block and off again after it."""
    server.set_auth(True)
    try:
        yield server
    finally:
        server.set_auth(False)


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A new, empty bucket on ``s3_server`` for one test."""
    return s3_server.create_bucket()
