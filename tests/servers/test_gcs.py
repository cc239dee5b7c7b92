"""Smoke test of the ``gcs_server`` fixture: fake-gcs-server answers the GCS JSON API."""

from __future__ import annotations

import json
import urllib.request

from stowflow.testing.servers.gcs import GcsServer


def test_gcs_server_creates_buckets_and_stores_objects(gcs_server: GcsServer) -> None:
    assert gcs_server.endpoint.startswith("http://127.0.0.1:")
    bucket = gcs_server.create_bucket()
    assert bucket != gcs_server.create_bucket(), "each call makes a fresh bucket"

    upload = urllib.request.Request(
        f"{gcs_server.endpoint}/upload/storage/v1/b/{bucket}/o?uploadType=media&name=a/b.txt",
        data=b"hello", method="POST", headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(upload, timeout=10) as response:
        assert json.load(response)["size"] == "5"
    assert gcs_server.object_names(bucket) == ["a/b.txt"]
    assert gcs_server.object_names(bucket, prefix="z") == []


def test_gcs_bucket_fixture_is_new_and_empty(gcs_server: GcsServer, gcs_bucket: str) -> None:
    assert gcs_bucket in gcs_server.buckets
    assert gcs_server.object_names(gcs_bucket) == []
