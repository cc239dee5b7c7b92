"""Engine behaviour beyond the conformance suite: packing counts, safety of the swap,
progress, the cache across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import fsspec
import pytest
from stowflow import transfer
from stowflow.errors import DiskFullError, StorageError
from stowflow.testing.conformance import read_tree, write_tree
from stowflow.transfer import FsspecStore, layout
from stowflow.transfer.cache import ContentCache
from stowflow.transfer.instrument import CountingStore
from stowflow.transfer.progress import ProgressEvent


@pytest.fixture
def store() -> FsspecStore:
    return FsspecStore(fsspec.filesystem("memory"), f"/engine-{uuid.uuid4().hex}")


def _many(root: Path, count: int, size: int = 2048) -> dict:
    files = {f"pkg{n % 20}/mod{n}.py": (bytes([n % 251]) * size) for n in range(count)}
    return write_tree(root, files)


def test_many_small_files_cost_a_handful_of_requests(store: FsspecStore, tmp_path: Path) -> None:
    tree = _many(tmp_path / "src", 500)
    counting = CountingStore(store)
    pushed = transfer.push(tmp_path / "src", counting, "p")
    # 500 files (1 MB) become one pack: one put for it, the push lease (put, then deleted),
    # one manifest, one HEAD.
    assert pushed.uploaded_objects == 1
    assert counting.calls["put"] == 4 and counting.calls["delete"] == 1
    assert counting.calls["get"] == 1 and counting.calls["list"] == 1  # HEAD, listing
    counting.reset()
    pulled = transfer.pull(counting, "p", tmp_path / "dest")
    assert pulled.fetched_objects == 1 and counting.requests == 2  # HEAD + the pack
    assert read_tree(tmp_path / "dest") == tree


def test_identical_files_are_stored_once(store: FsspecStore, tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {f"copy{n}.txt": b"same\n" * 100 for n in range(50)})
    pushed = transfer.push(tmp_path / "src", store, "p")
    pack = [k for k in store.fs.find(store.root) if k.endswith(".pack")]
    assert len(pack) == 1 and store.fs.size(pack[0]) == 500
    assert pushed.bytes_sent == 500


def test_unsafe_dest_is_not_replaced(store: FsspecStore, tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"a.txt": b"a"})
    transfer.push(tmp_path / "src", store, "p")
    mine = tmp_path / "my-project"
    write_tree(mine, {"precious.py": b"do not lose me"})
    with pytest.raises(StorageError, match="refusing to replace"):
        transfer.pull(store, "p", mine)
    assert (mine / "precious.py").read_bytes() == b"do not lose me"
    transfer.pull(store, "p", mine, replace=True)
    assert read_tree(mine) == {"a.txt": (b"a", False)}
    (tmp_path / "empty").mkdir()
    transfer.pull(store, "p", tmp_path / "empty")  # an empty folder is fine
    with pytest.raises(StorageError, match="not a folder"):
        (tmp_path / "file").write_text("x")
        transfer.pull(store, "p", tmp_path / "file", replace=True)


def test_a_failed_swap_restores_dest(store: FsspecStore, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path / "v1", {"a.txt": b"one"})
    write_tree(tmp_path / "v2", {"a.txt": b"two"})
    transfer.push(tmp_path / "v1", store, "p")
    transfer.pull(store, "p", tmp_path / "dest")
    transfer.push(tmp_path / "v2", store, "p")
    real_rename = os.rename

    def rename(src: str, dst: str) -> None:
        if ".stowflow-new-" in str(src):
            raise OSError(28, "No space left on device")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(DiskFullError, match="no space left on the disk to pull into"):
        transfer.pull(store, "p", tmp_path / "dest")
    monkeypatch.undo()
    assert read_tree(tmp_path / "dest") == {"a.txt": (b"one", False)}
    assert [p.name for p in tmp_path.iterdir() if "stowflow" in p.name] == []


def test_progress_reports_files_and_bytes(store: FsspecStore, tmp_path: Path) -> None:
    tree = _many(tmp_path / "src", 80)
    events: list[ProgressEvent] = []
    transfer.push(tmp_path / "src", store, "p", progress=events.append)
    total = sum(len(d) for d, _ in tree.values())
    assert events[0].total_files == 80 and events[0].total_bytes == total
    assert events[-1].done_files == 80 and events[-1].done_bytes >= total
    events.clear()
    transfer.pull(store, "p", tmp_path / "dest", progress=events.append)
    assert events[-1].operation == "pull" and events[-1].done_files == 80
    assert events[-1].done_bytes == total


def test_pulled_files_are_links_to_read_only_cache(store: FsspecStore, tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"a.txt": b"x" * 10, "run": (b"#!/bin/sh\n", True)})
    transfer.push(tmp_path / "src", store, "p")
    transfer.pull(store, "p", tmp_path / "dest")
    st = (tmp_path / "dest/a.txt").stat()
    assert st.st_nlink >= 2 and not st.st_mode & 0o222
    assert (tmp_path / "dest/run").stat().st_mode & 0o111
    assert not ((tmp_path / "dest/a.txt").stat().st_mode & 0o111)


def test_files_changed_during_push_are_caught(store: FsspecStore, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path / "src", {"a.txt": b"before"})
    from stowflow.transfer import scan

    real = scan.hash_files

    def hash_then_edit(files: list) -> list:
        hashed = real(files)
        (tmp_path / "src/a.txt").write_bytes(b"after!")
        return hashed

    monkeypatch.setattr(sys.modules["stowflow.transfer.push"], "hash_files", hash_then_edit)
    with pytest.raises(StorageError, match="changed while"):
        transfer.push(tmp_path / "src", store, "p")
    assert not store.fs.exists(f"{store.root}/p/.stowflow/HEAD")


CHILD = """
import sys, fsspec
from stowflow import transfer
from stowflow.transfer import FsspecStore
store = FsspecStore(fsspec.filesystem("file"), sys.argv[1])
transfer.pull(store, "p", sys.argv[2])
"""


def test_two_processes_share_the_cache(tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    store = FsspecStore(fsspec.filesystem("file"), str(bucket))
    tree = _many(tmp_path / "src", 300, size=4096)
    transfer.push(tmp_path / "src", store, "p")
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(bucket), str(tmp_path / d)],
                              env=os.environ.copy()) for d in ("a", "b", "c")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    for d in ("a", "b", "c"):
        assert read_tree(tmp_path / d) == tree
    cache = ContentCache()
    assert list(cache.tmp_dir.iterdir()) == []
    some = next(iter(tree.values()))[0]
    import hashlib

    assert cache.lookup(hashlib.sha256(some).hexdigest(), len(some)) is not None


def test_layout_keys() -> None:
    assert layout.head_key("a/b") == "a/b/.stowflow/HEAD"
    assert layout.head_key("") == ".stowflow/HEAD"
    assert layout.parse_version_key(layout.manifest_key("p", "a" * 64)) == "a" * 64
    assert layout.parse_content_key(layout.pack_key("p", "b" * 64)) == "b" * 64
    assert layout.parse_version_key("p/.stowflow/manifests/x.json") is None


def test_unchanged_repull_keeps_the_tree_and_repairs_a_tampered_one(
        store: FsspecStore, tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "src", {"a.txt": b"alpha" * 100, "b/c.txt": b"gamma" * 100})
    transfer.push(tmp_path / "src", store, "p")
    dest = tmp_path / "dest"
    transfer.pull(store, "p", dest)
    inode = dest.stat().st_ino
    again = transfer.pull(store, "p", dest)
    assert dest.stat().st_ino == inode, "an unchanged tree was rebuilt"
    assert again.cached_files == 2 and again.fetched_objects == 0

    (dest / "stray.txt").write_text("added by hand")
    transfer.pull(store, "p", dest)
    assert read_tree(dest) == tree

    # Edit a pulled file in place (as root can, despite the read-only mode): that also
    # corrupts the cache entry sharing its inode, so the re-pull must verify and refetch.
    target = dest / "a.txt"
    os.chmod(target, 0o644)
    with open(target, "r+b") as fh:
        fh.write(b"ALPHA")
    counting = CountingStore(store)
    repaired = transfer.pull(counting, "p", dest)
    assert read_tree(dest) == tree
    assert repaired.fetched_objects == 1


def test_many_small_pushes_are_repacked(store: FsspecStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    tree = _many(src, 40, size=512)
    for n in range(14):  # each push changes one file: one new tiny pack per version
        tree |= write_tree(src, {f"pkg{n}/mod{n}.py": f"change {n}\n".encode() * 50})
        transfer.push(src, store, "p")
    counting = CountingStore(store)
    pulled = transfer.pull(counting, "p", tmp_path / "dest")
    assert read_tree(tmp_path / "dest") == tree
    # Without repacking a cold pull would need 15 packs; the 11th push repacked them.
    assert pulled.fetched_objects <= 6, pulled.fetched_objects


class _BreakingStream:
    """A stream that fails with a transient error after ``limit`` bytes."""

    def __init__(self, inner, limit: int) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.left = inner, limit

    def read(self, n: int = -1) -> bytes:
        from stowflow.errors import StorageTransientError

        if self.left <= 0:
            raise StorageTransientError("memory://x: connection reset while reading")
        data = self.inner.read(min(n if n >= 0 else self.left, self.left))
        self.left -= len(data)
        return data

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.close()


def test_a_pack_stream_broken_midway_resumes_with_the_rest(store: FsspecStore,
                                                           tmp_path: Path) -> None:
    tree = _many(tmp_path / "src", 50, size=4000)
    transfer.push(tmp_path / "src", store, "p")
    breaks = []

    class Flaky(CountingStore):
        def get(self, key, byte_range=None):  # type: ignore[no-untyped-def]
            stream = super().get(key, byte_range)
            if key.endswith(".pack") and not breaks:
                breaks.append(byte_range)
                return _BreakingStream(stream, 70_000)
            return stream

    flaky = Flaky(store)
    pulled = transfer.pull(flaky, "p", tmp_path / "dest")
    assert breaks == [None]  # the whole pack was asked for first
    ranges = [k for k in flaky.keys_of("get") if k.endswith(".pack")]
    assert len(ranges) == 2 and pulled.fetched_objects == 2
    assert read_tree(tmp_path / "dest") == tree


def test_cache_prune_drops_unlinked_content_first(store: FsspecStore, tmp_path: Path) -> None:
    import shutil

    from stowflow.transfer.materialise import wait_for_cleanup

    write_tree(tmp_path / "a", {"a.bin": b"a" * 3000})
    write_tree(tmp_path / "b", {"b.bin": b"b" * 5000})
    transfer.push(tmp_path / "a", store, "pa")
    transfer.push(tmp_path / "b", store, "pb")
    transfer.pull(store, "pa", tmp_path / "da")
    transfer.pull(store, "pb", tmp_path / "db")
    shutil.rmtree(tmp_path / "db")  # b's content is now only in the cache
    wait_for_cleanup()
    cache = ContentCache()
    stale = cache.temp_path()
    os.utime(stale, (1, 1))
    removed, freed = cache.prune(4000)
    assert (removed, freed) == (1, 5000) and not stale.exists()
    counting = CountingStore(store)
    transfer.pull(counting, "pa", tmp_path / "da2")
    assert counting.calls["get"] == 1  # a is still cached
    assert cache.prune(0) == (1, 3000)
    assert (tmp_path / "da/a.bin").read_bytes() == b"a" * 3000  # trees keep their files
