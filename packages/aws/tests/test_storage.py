"""S3ObjectStore against the real moto server, and the S3Bucket block's methods."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ReadTimeoutError
from stowflow.errors import StorageError, StorageNotFoundError, StorageTransientError
from stowflow.testing.servers.s3 import S3Server
from stowflow.testing.storage_blocks import ObjectStorageBlockSuite
from stowflow_aws import AwsCredentials, S3Bucket, S3ObjectStore
from stowflow_aws.storage import _TranslatingStream, join_key, split_url

MiB = 1024 * 1024


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# --- the ObjectStore --------------------------------------------------------------------------


def test_put_bytes_then_list_get_and_head(store: S3ObjectStore) -> None:
    store.put("code/a.txt", b"alpha")
    store.put("code/sub/b.txt", b"bravo!")
    store.put("code-2/c.txt", b"not under code/")

    listed = sorted(store.list("code/"), key=lambda info: info.key)
    assert [(i.key, i.size, i.etag) for i in listed] == [
        ("code/a.txt", 5, md5(b"alpha")),
        ("code/sub/b.txt", 6, md5(b"bravo!")),
    ]
    with store.get("code/sub/b.txt") as stream:
        assert stream.read() == b"bravo!"
    head = store.head("code/a.txt")
    assert head is not None and (head.size, head.etag) == (5, md5(b"alpha"))
    assert store.head("code/missing.txt") is None
    assert list(store.list("nothing-here/")) == []


def test_put_replaces_and_get_bytes_reads_latest(store: S3ObjectStore) -> None:
    store.put("k", b"one")
    store.put("k", b"two")
    assert store.get_bytes("k") == b"two"


def test_get_streams_a_byte_range(store: S3ObjectStore) -> None:
    data = bytes(range(256)) * 40
    store.put("r.bin", data)
    with store.get("r.bin", (10, 1034)) as stream:
        chunks = [stream.read(100) for _ in range(11)]
    assert b"".join(chunks) == data[10:1034]
    assert store.get_bytes("r.bin", (5000, 5000)) == b""
    assert store.get_bytes("r.bin", (10_000, 10_240)) == data[10_000:10_240]


def test_stream_works_with_buffered_readers(store: S3ObjectStore) -> None:
    store.put("lines.txt", b"one\ntwo\nthree\n")
    with store.get("lines.txt") as raw:
        reader = io.BufferedReader(raw)  # type: ignore[arg-type]
        assert reader.readline() == b"one\n"
        assert reader.read() == b"two\nthree\n"


def test_missing_key_and_missing_bucket_are_not_found(
    store: S3ObjectStore, credentials: AwsCredentials
) -> None:
    with pytest.raises(StorageNotFoundError, match=r"missing\.bin"):
        store.get("missing.bin")
    with pytest.raises(StorageNotFoundError, match=r"missing\.bin"):
        store.get_to_path("missing.bin", Path(os.devnull))
    with pytest.raises(StorageNotFoundError, match=r"missing\.bin"):
        store.get("missing.bin", (0, 0))
    with S3ObjectStore("no-such-bucket-anywhere", credentials=credentials) as gone:
        with pytest.raises(StorageNotFoundError, match="bucket does not exist"):
            list(gone.list("x/"))
        # HEAD cannot tell a missing bucket from a missing key: the store finds out.
        with pytest.raises(StorageNotFoundError, match="s3://no-such-bucket-anywhere"):
            gone.head("x/y")


def test_small_file_is_streamed_in_one_request(store: S3ObjectStore, tmp_path: Path) -> None:
    path = tmp_path / "small.bin"
    data = os.urandom(300_000)
    path.write_bytes(data)
    store.put("small.bin", path)
    head = store.head("small.bin")
    assert head is not None and head.etag == md5(data)  # a plain PUT's etag is the MD5


def test_missing_local_file_is_a_storage_error(store: S3ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"put 'k' failed: cannot read .*gone\.txt"):
        store.put("k", tmp_path / "gone.txt")


def test_large_file_goes_up_in_parts_and_down_in_parallel(
    store: S3ObjectStore, tmp_path: Path
) -> None:
    data = os.urandom(12 * MiB + 123)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    store.put("big/big.bin", source)
    head = store.head("big/big.bin")
    # A multipart upload's etag is "<md5 of part md5s>-<number of parts>": 5+5+2 MiB.
    assert head is not None and head.size == len(data) and head.etag.endswith("-3")

    target = tmp_path / "down.bin"
    store.get_to_path("big/big.bin", target)
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest()

    part = tmp_path / "part.bin"
    store.get_to_path("big/big.bin", part, (6 * MiB, 6 * MiB + 10))
    assert part.read_bytes() == data[6 * MiB: 6 * MiB + 10]


def test_large_bytes_go_up_in_parts(store: S3ObjectStore) -> None:
    data = os.urandom(6 * MiB)
    store.put("big-bytes", data)
    head = store.head("big-bytes")
    assert head is not None and head.etag.endswith("-2")
    assert store.get_bytes("big-bytes") == data


def test_listing_pages_and_deleting_in_batches(store: S3ObjectStore) -> None:
    keys = [f"many/{i:05d}" for i in range(1_203)]  # > 1,000: two pages, two delete batches
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: store.put(k, k.encode()), keys))
    store.put("other/keep", b"x")

    listed = list(store.list("many/"))
    assert sorted(i.key for i in listed) == keys
    assert all(i.size == 10 for i in listed)

    store.delete([*keys, "many/never-existed"])
    assert list(store.list("many/")) == []
    assert store.get_bytes("other/keep") == b"x"
    store.delete([])


def test_one_store_is_shared_by_many_threads(store: S3ObjectStore) -> None:
    payloads = {f"t/{i}": os.urandom(1000 + i) for i in range(64)}
    barrier = threading.Barrier(8)

    def work(item: tuple[str, bytes]) -> bool:
        key, data = item
        if int(key[2:]) < 8:
            barrier.wait(timeout=30)  # make the first requests truly overlap
        store.put(key, data)
        return store.get_bytes(key) == data

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, payloads.items()))
    assert {i.key for i in store.list("t/")} == set(payloads)


def test_client_pool_is_sized_to_the_concurrency(credentials: AwsCredentials,
                                                 s3_bucket: str) -> None:
    with S3ObjectStore(s3_bucket, credentials=credentials, max_concurrency=5) as small:
        assert small.client.meta.config.max_pool_connections == 10
        assert small.max_concurrency == 5


def test_read_errors_midstream_are_transient() -> None:
    class Broken:
        def read(self, size: int | None = None) -> bytes:
            raise ReadTimeoutError(endpoint_url="http://127.0.0.1:1")

        def close(self) -> None:
            pass

    stream = _TranslatingStream(Broken(), "s3://b", "k")
    with pytest.raises(StorageTransientError, match="s3://b: read 'k'") as caught:
        stream.read()
    assert isinstance(caught.value.__cause__, ReadTimeoutError)


def test_endpoint_on_the_step_overrides_the_block(s3_server: S3Server, s3_bucket: str) -> None:
    wrong = AwsCredentials(aws_access_key_id="testing", aws_secret_access_key="testing",
                           region_name="us-east-1",
                           aws_client_parameters={"endpoint_url": "http://127.0.0.1:9"})
    with S3ObjectStore(s3_bucket, credentials=wrong,
                       client_parameters={"endpoint_url": s3_server.endpoint_url}) as store:
        store.put("x", b"y")
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="x")["Body"].read() == b"y"


def test_keys_and_urls() -> None:
    assert join_key("/folder/", "", "sub/", "/a.txt") == "folder/sub/a.txt"
    assert join_key("", "") == ""
    assert split_url("s3://bucket/some/folder/") == ("bucket", "some/folder")
    assert split_url("s3a://bucket") == ("bucket", "")


# --- the block ------------------------------------------------------------------------------


def test_block_write_and_read_path_under_its_folder(
    credentials: AwsCredentials, s3_server: S3Server, s3_bucket: str
) -> None:
    bucket = S3Bucket(bucket_name=s3_bucket, credentials=credentials, bucket_folder="proj/")
    assert bucket.write_path("conf/settings.toml", b"x = 1") == "proj/conf/settings.toml"
    assert bucket.read_path("conf/settings.toml") == b"x = 1"
    raw = s3_server.client().get_object(Bucket=s3_bucket, Key="proj/conf/settings.toml")
    assert raw["Body"].read() == b"x = 1"


class TestS3BucketBlock(ObjectStorageBlockSuite):
    """Core's storage-block suite on a fresh moto bucket."""

    @pytest.fixture
    def storage_block(self, credentials: AwsCredentials, s3_bucket: str) -> S3Bucket:
        return S3Bucket(bucket_name=s3_bucket, credentials=credentials, bucket_folder="proj")


# --- gc and a killed push's multipart uploads -------------------------------------------------


def test_gc_aborts_the_incomplete_multipart_uploads_a_killed_push_left(
    store: S3ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression (issue 19): a push killed during a multipart upload leaves the upload's
    # parts in the bucket (billed, invisible to a listing); gc never removed them.
    from stowflow import transfer
    from stowflow.transfer import versions

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("alpha")
    transfer.push(tmp_path / "src", store, "proj")
    client = store.client
    started = []
    for key in ("proj/.stowflow/packs/" + "ab" * 32 + ".pack", "other/.stowflow/packs/x.pack"):
        upload = client.create_multipart_upload(Bucket=store.bucket, Key=key)
        client.upload_part(Bucket=store.bucket, Key=key, UploadId=upload["UploadId"],
                           PartNumber=1, Body=b"p" * 1024)
        started.append(key)

    def uploads() -> list[str]:
        found = client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
        return sorted(u["Key"] for u in found)

    # moto reports every upload as initiated on 2010-11-10, so "young" is shown by asking
    # for an age no upload can have.
    with monkeypatch.context() as patched:
        patched.setattr(versions, "TEMP_MIN_AGE_S", 100 * 365 * 86400)
        assert transfer.gc(store, "proj", keep=1).aborted_uploads == 0  # may be live
    assert uploads() == sorted(started)
    result = transfer.gc(store, "proj", keep=1)
    assert result.aborted_uploads == 1
    assert uploads() == ["other/.stowflow/packs/x.pack"]  # another prefix's is not ours
    assert transfer.list_versions(store, "proj")[0].current
