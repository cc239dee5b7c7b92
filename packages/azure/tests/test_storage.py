"""AzureBlobObjectStore and the AzureBlobStorage block against a real Azurite server."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from stowflow import transfer
from stowflow.errors import StorageNotFoundError, UnsafePathError
from stowflow.testing.conformance import read_tree, write_tree
from stowflow.testing.servers.azurite import AzuriteServer
from stowflow.testing.storage_blocks import ObjectStorageBlockSuite
from stowflow.transfer import versions
from stowflow_azure import AzureBlobCredentials, AzureBlobObjectStore, AzureBlobStorage
from stowflow_azure import storage as storage_module


class RequestLog:
    """Records (method, query) of every response a client sees, via ``raw_response_hook``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    def __call__(self, response: Any) -> None:
        request = response.http_request
        self.requests.append((request.method, request.url.partition("?")[2]))

    def count(self, method: str, query_part: str = "") -> int:
        return sum(1 for m, q in self.requests if m == method and query_part in q)


@pytest.fixture
def logged_store(container: str,
                 credentials: AzureBlobCredentials) -> Iterator[tuple[AzureBlobObjectStore, RequestLog]]:
    log = RequestLog()
    with AzureBlobObjectStore(
        container, credentials, max_concurrency=4, raw_response_hook=log,
        max_single_put_size=256 * 1024, max_block_size=64 * 1024,
        max_single_get_size=128 * 1024, max_chunk_get_size=64 * 1024,
    ) as store:
        store.results_per_page = 2
        yield store, log


def test_put_get_list_round_trip(store: AzureBlobObjectStore, tmp_path: Path) -> None:
    store.put("code/a.txt", b"alpha")
    source = tmp_path / "b.bin"
    source.write_bytes(os.urandom(1000))
    store.put("code/sub/b.bin", source)
    store.put("code-2/c.txt", b"other folder")

    assert store.get_bytes("code/a.txt") == b"alpha"
    with store.get("code/sub/b.bin") as stream:
        assert stream.read() == source.read_bytes()
    listed = {info.key: info for info in store.list("code/")}
    assert sorted(listed) == ["code/a.txt", "code/sub/b.bin"]
    assert listed["code/a.txt"].size == 5
    assert listed["code/sub/b.bin"].size == 1000
    # a single-shot upload gets a Content-MD5; the etag is its hex digest
    assert listed["code/a.txt"].etag == hashlib.md5(b"alpha").hexdigest()
    assert {i.key for i in store.list("")} == {"code/a.txt", "code/sub/b.bin", "code-2/c.txt"}
    assert list(store.list("nothing/")) == []


def test_listing_follows_every_page(logged_store: tuple[AzureBlobObjectStore, RequestLog]) -> None:
    store, log = logged_store
    keys = [f"many/{i:02d}.txt" for i in range(7)]
    for key in keys:
        store.put(key, key.encode())
    listed = [info.key for info in store.list("many/")]
    assert sorted(listed) == keys
    assert log.count("GET", "comp=list") == 4  # 7 blobs, 2 per page


def test_directory_markers_are_ignored(store: AzureBlobObjectStore,
                                       azurite_server: AzuriteServer) -> None:
    with BlobServiceClient.from_connection_string(azurite_server.connection_string) as client:
        container = client.get_container_client(store.container)
        container.upload_blob("tree/folder", b"", metadata={"hdi_isfolder": "true"})
        container.upload_blob("tree/other/", b"")
        container.upload_blob("tree/folder/file.txt", b"content")
    assert [info.key for info in store.list("tree/")] == ["tree/folder/file.txt"]
    assert store.head("tree/folder") is None
    assert store.head("tree/other/") is None
    info = store.head("tree/folder/file.txt")
    assert info is not None and info.size == 7


def test_head(store: AzureBlobObjectStore) -> None:
    assert store.head("missing") is None
    store.put("present", b"12345")
    info = store.head("present")
    assert info is not None
    assert (info.key, info.size) == ("present", 5)
    assert info.etag == next(iter(store.list("present"))).etag


def test_byte_ranges(store: AzureBlobObjectStore, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4
    store.put("r", data)
    assert store.get_bytes("r", (10, 20)) == data[10:20]
    assert store.get_bytes("r", (0, len(data))) == data
    assert store.get_bytes("r", (5, 5)) == b""
    target = tmp_path / "part"
    store.get_to_path("r", target, (100, 612))
    assert target.read_bytes() == data[100:612]
    with pytest.raises(StorageNotFoundError):
        store.get_bytes("missing", (0, 0))
    with pytest.raises(ValueError, match="byte range"):
        store.get_bytes("r", (5, 2))


def test_streamed_get_reads_in_chunks(logged_store: tuple[AzureBlobObjectStore, RequestLog]) -> None:
    store, log = logged_store
    data = os.urandom(300 * 1024)
    store.put("stream.bin", data)
    log.requests.clear()
    with store.get("stream.bin") as stream:
        first = stream.read(1000)
        assert log.count("GET") == 1  # only the first range is fetched up front
        rest = stream.read()
    assert first + rest == data
    assert log.count("GET") > 1


def test_large_upload_goes_as_blocks(logged_store: tuple[AzureBlobObjectStore, RequestLog],
                                     azurite_server: AzuriteServer, tmp_path: Path) -> None:
    store, log = logged_store
    source = tmp_path / "large.bin"
    source.write_bytes(os.urandom(600 * 1024))
    store.put("big/large.bin", source)
    blocks = [q for m, q in log.requests if m == "PUT" and "blockid=" in q]
    assert len(blocks) == 10  # 600 KiB in 64 KiB blocks
    assert log.count("PUT", "comp=blocklist") == 1
    with BlobServiceClient.from_connection_string(azurite_server.connection_string) as client:
        committed, _ = client.get_blob_client(store.container, "big/large.bin").get_block_list()
    assert len(committed) == 10
    # and overwriting works (overwrite=True)
    store.put("big/large.bin", b"small now")
    assert store.get_bytes("big/large.bin") == b"small now"


def test_large_download_goes_as_parallel_ranges(
    logged_store: tuple[AzureBlobObjectStore, RequestLog], tmp_path: Path,
) -> None:
    store, log = logged_store
    data = os.urandom(700 * 1024)
    store.put("big.bin", data)
    log.requests.clear()
    target = tmp_path / "big.bin"
    store.get_to_path("big.bin", target)
    assert target.read_bytes() == data
    # 128 KiB first, then 64 KiB ranges: 1 + ceil(572 / 64) = 10 requests
    assert log.count("GET") == 10


def test_delete_in_batches(store: AzureBlobObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_module, "DELETE_BATCH_SIZE", 3)
    keys = [f"d/{i}" for i in range(7)]
    for key in keys:
        store.put(key, b"x")
    store.put("keep", b"y")
    store.delete([*keys, "d/never-existed", keys[0]])
    assert [info.key for info in store.list("")] == ["keep"]
    store.delete([])
    store.delete(["d/0"])  # already gone: ignored


def test_delete_without_batches(store: AzureBlobObjectStore,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Azurite accepts batches; an account that refuses them is simulated at the SDK call.
    from azure.core.exceptions import HttpResponseError

    class NotImplementedResponse:
        status_code, reason, request = 501, "Not Implemented", None
        headers: dict[str, str] = {}

        def text(self) -> str:
            return ""

    def refuse(*keys: str, **kwargs: Any) -> None:
        raise HttpResponseError(message="batch not supported",
                                response=NotImplementedResponse())  # type: ignore[arg-type]

    keys = [f"one-by-one/{i}" for i in range(5)]
    for key in keys:
        store.put(key, b"x")
    monkeypatch.setattr(store._client, "delete_blobs", refuse)
    store.delete([*keys, "one-by-one/missing"])
    assert list(store.list("one-by-one/")) == []


def test_delete_a_full_batch(store: AzureBlobObjectStore) -> None:
    keys = [f"full/{i:03d}" for i in range(storage_module.DELETE_BATCH_SIZE + 4)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: store.put(k, b"."), keys))
    store.delete(keys)
    assert list(store.list("full/")) == []


def test_one_store_shared_by_threads(store: AzureBlobObjectStore) -> None:
    payloads = {f"t/{i}": os.urandom(2048) for i in range(40)}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda item: store.put(*item), payloads.items()))
        fetched = dict(zip(payloads, pool.map(store.get_bytes, payloads), strict=True))
    assert fetched == payloads


def test_missing_key_raises_not_found(store: AzureBlobObjectStore, tmp_path: Path) -> None:
    with pytest.raises(StorageNotFoundError, match="'nope'"):
        store.get("nope")
    with pytest.raises(StorageNotFoundError):
        store.get_to_path("nope", tmp_path / "nope")


# --- the block ------------------------------------------------------------------------


def test_block_read_and_write_paths(container: str, credentials: AzureBlobCredentials) -> None:
    block = AzureBlobStorage(container=container, credentials=credentials, folder="/team/code/")
    assert block.folder == "team/code"
    assert block.write_path("flows/etl.py", "print('hi')") == "team/code/flows/etl.py"
    assert block.read_path("flows/etl.py") == b"print('hi')"
    assert block.read_path("./flows/../flows/etl.py") == b"print('hi')"
    with pytest.raises(UnsafePathError):
        block.read_path("../other/secret.txt")
    with pytest.raises(StorageNotFoundError):
        block.read_path("flows/missing.py")


def test_dot_segments_cannot_address_a_blob(store: AzureBlobObjectStore) -> None:
    for key in ("a/../b", "./a", "a/./b", ".."):
        with pytest.raises(UnsafePathError, match="segment"):
            store.put(key, b"x")
        with pytest.raises(UnsafePathError):
            store.head(key)
    assert list(store.list("")) == []


def test_az_url_as_a_code_source(container: str, credentials: AzureBlobCredentials,
                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stowflow.steps import run_steps
    from stowflow.storage.remote import RemoteStorage
    from stowflow.storage.resolve import resolve

    source = tmp_path / "src"
    source.mkdir()
    (source / "etl.py").write_text("def etl():\n    return 'url'\n")
    credentials.save("azurite")
    storage = resolve(f"az://{container}/apps/etl",
                      credentials=AzureBlobCredentials.load("azurite"))
    assert isinstance(storage, RemoteStorage)
    version = storage.push(source).version
    pulled = storage.pull(tmp_path / "dest")
    assert pulled.version == version
    assert (pulled.directory / "etl.py").read_text() == "def etl():\n    return 'url'\n"

    # the recorded step names the block, and a worker resolves it back to credentials
    step = storage.to_pull_step()
    assert step == {"stowflow.deployments.steps.pull_from_remote_storage": {
        "url": f"az://{container}/apps/etl",
        "credentials": "{{ stowflow.blocks.azure-blob-credentials.azurite }}"}}
    monkeypatch.chdir(tmp_path)
    out = run_steps([step])
    assert out["version"] == version and out["directory"] == str(tmp_path / "etl")


def test_sdk_request_logging_stays_out_of_info_logs(store: AzureBlobObjectStore,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.INFO):
        store.put("logged", b"x")
        assert store.get_bytes("logged") == b"x"
    assert not [r for r in caplog.records if "Request URL" in r.getMessage()]
    with caplog.at_level(logging.INFO, logger="stowflow_azure.http"):
        store.head("logged")
    assert any("Request URL" in r.getMessage() for r in caplog.records)  # opt-in still works


class TestAzureBlobStorageBlock(ObjectStorageBlockSuite):
    """Core's storage-block suite on a fresh Azurite container."""

    @pytest.fixture
    def storage_block(self, container: str,
                      credentials: AzureBlobCredentials) -> AzureBlobStorage:
        return AzureBlobStorage(container=container, credentials=credentials, folder="proj")


# --- gc and a killed push's staged blocks ------------------------------------------------------

_KILLABLE_PUSH = """
import sys
import time
from pydantic import SecretStr
from stowflow import transfer
from stowflow_azure import AzureBlobCredentials, AzureBlobObjectStore


def distant(request):  # each staged block takes a while, as over a slow link
    if "blockid=" in request.http_request.url:
        time.sleep(0.05)


credentials = AzureBlobCredentials(connection_string=SecretStr(sys.argv[1]))
with AzureBlobObjectStore(sys.argv[2], credentials, max_concurrency=1, raw_request_hook=distant,
                          max_single_put_size=256 * 1024, max_block_size=256 * 1024) as store:
    transfer.push(sys.argv[3], store, "proj")
"""


def _staged_only(client: Any, prefix: str = "") -> list[str]:
    """Names under ``prefix`` that have staged blocks and no committed blob (all names
    first: a blob committed between the two listings is then not mistaken for staged)."""
    every = [b.name for b in client.list_blobs(name_starts_with=prefix or None,
                                               include=["uncommittedblobs"])]
    committed = {b.name for b in client.list_blobs(name_starts_with=prefix or None)}
    return sorted(name for name in every if name not in committed)


def test_gc_discards_the_staged_blocks_a_killed_push_left(
    azurite_server: AzuriteServer, container: str, store: AzureBlobObjectStore,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Regression (issue 19): a push SIGKILLed while a large file goes up in blocks leaves
    # them staged under the blob's name (kept and billed for a week, invisible to a
    # listing); gc never removed them (ObjectStore.abort_uploads did nothing on Azure).
    small, big = tmp_path / "v1", tmp_path / "v2"
    write_tree(small, {"a.txt": b"alpha"})
    tree = write_tree(big, {"a.txt": b"alpha", "big.bin": os.urandom(12 * 1024 * 1024)})
    first = transfer.push(small, store, "proj").version
    client = BlobServiceClient.from_connection_string(
        azurite_server.connection_string).get_container_client(container)
    # Blocks staged elsewhere are not gc's: another prefix's, and a committed blob's own.
    client.get_blob_client("other/.stowflow/objects/x").stage_block("YmxvY2sx", b"o" * 512)
    client.get_blob_client("proj/kept.txt").upload_blob(b"committed")
    client.get_blob_client("proj/kept.txt").stage_block("YmxvY2sx", b"k" * 512)

    pusher = subprocess.Popen([sys.executable, "-c", _KILLABLE_PUSH,
                               azurite_server.connection_string, container, str(big)])
    deadline = time.monotonic() + 120
    while not _staged_only(client, "proj/") and pusher.poll() is None:
        assert time.monotonic() < deadline, "the push never staged a block"
        time.sleep(0.05)
    pusher.send_signal(signal.SIGKILL)
    pusher.wait()
    assert pusher.returncode == -signal.SIGKILL, "the push finished before it was killed"
    staged = _staged_only(client, "proj/")
    assert len(staged) == 1 and "/.stowflow/" in staged[0]

    with monkeypatch.context() as patched:  # blocks that may belong to a live push stay
        patched.setattr(versions, "TEMP_MIN_AGE_S", 3600)
        early = transfer.gc(store, "proj", keep=1)
    assert early.aborted_uploads == 0 and early.deleted_leases == 1  # the dead pusher's
    assert _staged_only(client, "proj/") == staged
    monkeypatch.setattr(versions, "TEMP_MIN_AGE_S", 0)
    result = transfer.gc(store, "proj", keep=1)
    assert result.aborted_uploads == 1
    assert _staged_only(client) == ["other/.stowflow/objects/x"]
    assert client.get_blob_client("proj/kept.txt").download_blob().readall() == b"committed"
    assert [v.id for v in transfer.list_versions(store, "proj") if v.current] == [first]

    second = transfer.push(big, store, "proj").version  # the store is whole for the next push
    assert read_tree(transfer.pull(store, "proj", tmp_path / "dest", version=second).directory) \
        == tree
