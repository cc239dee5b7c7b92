"""Core's fsspec ObjectStore: keys under a root, string-prefix listing, translated errors."""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import pytest
from stowflow import transfer
from stowflow.errors import StorageError, StorageNotFoundError
from stowflow.testing.conformance import write_tree
from stowflow.transfer import FsspecStore
from stowflow.transfer.fsspec_store import store_for_url
from stowflow.transfer.pull import default_dest


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FsspecStore:
    if request.param == "memory":
        return FsspecStore(fsspec.filesystem("memory"), f"/b-{uuid.uuid4().hex}")
    return FsspecStore(fsspec.filesystem("file"), str(tmp_path / "bucket"))


def test_put_get_list_head_delete(store: FsspecStore) -> None:
    store.put("a/one.txt", b"one")
    store.put("a-2/two.txt", b"two")
    store.put("a/deep/three.txt", b"three")
    assert sorted(i.key for i in store.list("a/")) == ["a/deep/three.txt", "a/one.txt"]
    assert sorted(i.key for i in store.list("a")) == ["a-2/two.txt", "a/deep/three.txt",
                                                        "a/one.txt"]
    assert list(store.list("nothing/")) == []
    assert store.get_bytes("a/deep/three.txt", (1, 4)) == b"hre"
    with store.get("a/one.txt") as stream:
        assert stream.read() == b"one"
    info = store.head("a/one.txt")
    assert info is not None and info.size == 3 and info.etag
    assert store.head("a/missing") is None
    store.delete(["a/one.txt", "a/never-was"])
    assert store.head("a/one.txt") is None


def test_missing_keys_name_the_store_and_key(store: FsspecStore, tmp_path: Path) -> None:
    with pytest.raises(StorageNotFoundError) as info:
        store.get_bytes("no/such/key")
    assert store.name in str(info.value) and "no/such/key" in str(info.value)
    with pytest.raises(StorageNotFoundError):
        store.get_to_path("no/such/key", tmp_path / "out")


def test_local_put_is_atomic_and_needs_no_folders(tmp_path: Path) -> None:
    store = FsspecStore(fsspec.filesystem("file"), str(tmp_path / "bucket"))
    store.put("x/y/z.txt", b"first")
    store.put("x/y/z.txt", b"second")
    assert (tmp_path / "bucket/x/y/z.txt").read_bytes() == b"second"
    assert [p.name for p in (tmp_path / "bucket/x/y").iterdir()] == ["z.txt"]  # no temp left
    (tmp_path / "bucket/blocker").write_text("a file")
    with pytest.raises(StorageError):
        store.put("blocker/child", b"cannot: blocker is a file")


def test_store_for_url(tmp_path: Path) -> None:
    mem = store_for_url("memory://bucket/prefix/x")
    assert mem is not None and mem.name == "memory://bucket" and mem.root == "/bucket"
    local = store_for_url(f"file://{tmp_path}/p")
    assert local is not None and local.name == "file://"
    assert store_for_url("nosuchproto://b/x") is None


def test_default_destination(store: FsspecStore, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_dest(store, "team/project/") == tmp_path / "project"
    write_tree(tmp_path / "src", {"f.py": b"f"})
    transfer.push(tmp_path / "src", store, "team/app")
    result = transfer.pull(store, "team/app")
    assert result.directory == tmp_path / "app" and (tmp_path / "app/f.py").exists()
