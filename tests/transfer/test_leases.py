"""A push in flight and a gc on the same prefix: gc never deletes what the push reuses."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest
from stowflow import transfer
from stowflow.cli.app import main
from stowflow.errors import StorageError
from stowflow.testing.conformance import read_tree, write_tree
from stowflow.transfer import FsspecStore, layout
from stowflow.transfer.instrument import CountingStore
from stowflow.transfer.leases import LEASE_TTL_S, leases_prefix, live_push_leases, push_lease
from stowflow.transfer.store import ObjectInfo


@pytest.fixture
def store(tmp_path: Path) -> FsspecStore:
    root = tmp_path / "bucket"
    root.mkdir()
    return FsspecStore(fsspec.filesystem("file"), str(root))


def versions_with_garbage(store: FsspecStore, tmp_path: Path) -> Path:
    """Push two versions whose first has content only it uses; return the source folder."""
    src = tmp_path / "src"
    write_tree(src, {"a.py": b"one\n" * 100, "b.py": b"two\n" * 100})
    transfer.push(src, store, "p")
    write_tree(src, {"a.py": b"changed\n" * 100, "b.py": b"changed too\n" * 100})
    transfer.push(src, store, "p")
    return src


def packs(store: FsspecStore) -> list[str]:
    return sorted(i.key for i in store.list("p/.stowflow/packs/"))


def test_gc_refuses_while_a_push_holds_its_lease(store: FsspecStore, tmp_path: Path) -> None:
    versions_with_garbage(store, tmp_path)
    before = packs(store)
    with push_lease(store, "p"), pytest.raises(StorageError,
                                               match="a push to 'p' is in progress") as info:
        transfer.gc(store, "p", keep=1)
    assert "--force" in (info.value.hint or "")
    assert packs(store) == before  # nothing deleted: no object, no version
    assert len(transfer.list_versions(store, "p")) == 2
    assert transfer.gc(store, "p", keep=1).deleted_objects >= 1  # lease gone: it runs


def test_force_ignores_a_lease_left_by_a_crashed_push(store: FsspecStore, tmp_path: Path) -> None:
    versions_with_garbage(store, tmp_path)
    store.put(f"{leases_prefix('p')}push-{int(time.time())}-crashed", b"x")
    with pytest.raises(StorageError):
        transfer.gc(store, "p", keep=1)
    assert transfer.gc(store, "p", keep=1, force=True).deleted_objects >= 1


def test_a_lease_older_than_the_ttl_is_stale(store: FsspecStore) -> None:
    old = int(time.time() - LEASE_TTL_S - 60)
    store.put(f"{leases_prefix('p')}push-{old}-crashed", b"x")
    assert live_push_leases(store, "p") == []


class LeaseAppearsOnFirstDelete(CountingStore):
    """A push starts (its lease appears) right after gc deleted the old manifests."""

    def delete(self, keys: list[str]) -> None:  # type: ignore[override]
        first = self.calls["delete"] == 0
        super().delete(keys)
        if first:
            self.inner.put(f"{leases_prefix('p')}push-{int(time.time())}-late", b"x")


def test_gc_stops_before_deleting_objects_when_a_push_starts(store: FsspecStore,
                                                             tmp_path: Path) -> None:
    versions_with_garbage(store, tmp_path)
    before = packs(store)
    with pytest.raises(StorageError, match="in progress"):
        transfer.gc(LeaseAppearsOnFirstDelete(store), "p", keep=1)
    assert packs(store) == before  # the objects the new push may reuse are all still there


class GcDeletesDuringPush(CountingStore):
    """Simulates a gc deletion landing just after the push listed the store: the first
    listing of the objects is answered, then the pack the push will reuse is deleted."""

    def __init__(self, inner: FsspecStore, victim: str) -> None:
        super().__init__(inner)
        self.victim, self.struck = victim, False

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        found = list(super().list(prefix))
        if not self.struck and prefix == "p/.stowflow/":
            self.struck = True
            self.inner.delete([self.victim])
        return iter(found)


def test_a_push_whose_reused_objects_vanish_uploads_them_again(store: FsspecStore,
                                                               tmp_path: Path) -> None:
    src = tmp_path / "src"
    files = {f"m{n:02d}.py": f"# module {n}\n".encode() * 50 for n in range(20)}
    write_tree(src, files)
    transfer.push(src, store, "p")
    (victim,) = packs(store)
    tree = write_tree(src, {"m05.py": b"# changed\n"})
    pushed = transfer.push(src, GcDeletesDuringPush(store, victim), "p")
    assert pushed.changed
    pulled = transfer.pull(store, "p", tmp_path / "dest", version=pushed.version)
    assert pulled.version == pushed.version
    expected = {k: (v, False) for k, v in files.items()} | tree
    assert read_tree(tmp_path / "dest") == expected
    assert live_push_leases(store, "p") == []  # the lease is released


def test_an_unchanged_push_takes_no_lease(store: FsspecStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_tree(src, {"a.py": b"same\n"})
    transfer.push(src, store, "p")
    counting = CountingStore(store)
    transfer.push(src, counting, "p")
    assert counting.calls["put"] == 0 and counting.calls["delete"] == 0


def test_cli_gc_says_a_push_is_running_and_force_overrides(
    store: FsspecStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions_with_garbage(store, tmp_path)
    url = f"file://{tmp_path / 'bucket'}/p"
    store.put(f"{leases_prefix('p')}push-{int(time.time())}-other", b"x")
    assert main(["storage", "gc", url, "--keep", "1"]) == 1
    err = capsys.readouterr().err
    assert "in progress" in err and "Traceback" not in err
    assert main(["storage", "gc", url, "--keep", "1", "--force"]) == 0
    assert layout.is_sha256(transfer.list_versions(store, "p")[0].id)


def dead_pid() -> int:
    """A pid that belonged to a process that has exited."""
    import subprocess
    import sys

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(child.stdout)


def test_a_killed_local_pushs_lease_is_dead_at_once_and_gc_removes_it(
    store: FsspecStore, tmp_path: Path
) -> None:
    # Regression (issue 19 item 5): a lease left by a SIGKILLed push on this machine
    # blocked a plain gc for two hours, and gc --force left it in place.
    import socket

    versions_with_garbage(store, tmp_path)
    key = f"{leases_prefix('p')}push-{int(time.time())}-killed"
    store.put(key, f"{socket.gethostname()} pid {dead_pid()}\n".encode())
    assert live_push_leases(store, "p") == []
    result = transfer.gc(store, "p", keep=1)
    assert result.deleted_objects >= 1 and result.deleted_leases == 1
    assert list(store.list(leases_prefix("p"))) == []


def test_a_lease_of_a_live_process_on_another_host_still_counts(store: FsspecStore) -> None:
    store.put(f"{leases_prefix('p')}push-{int(time.time())}-remote",
              f"some-other-host pid {dead_pid()}\n".encode())
    assert len(live_push_leases(store, "p")) == 1


def test_gc_removes_unfinished_uploads_of_killed_pushes(
    store: FsspecStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Regression (issue 19 item 5): .part files of killed pushes were never removed.
    import os

    versions_with_garbage(store, tmp_path)
    bucket = tmp_path / "bucket" / "p" / ".stowflow"
    old_part = bucket / "objects" / ".0123abcd-k1ll3d_x.part"
    old_part.parent.mkdir(parents=True, exist_ok=True)
    old_part.write_bytes(b"x" * 1000)
    fresh_part = bucket / "packs" / ".89abcdef-wr1t1ng.part"
    fresh_part.write_bytes(b"y" * 10)
    an_hour_ago = time.time() - 3600
    os.utime(old_part, (an_hour_ago, an_hour_ago))
    assert main(["storage", "gc", f"file://{tmp_path / 'bucket'}/p", "--keep", "1"]) == 0
    out = capsys.readouterr().out
    assert "removed 1 unfinished uploads (1000 B" in out or "removed 1 unfinished" in out
    assert not old_part.exists()
    assert fresh_part.exists()  # it may still be being written


def test_a_push_lists_the_store_only_once_no_gc_holds_its_lock(
    store: FsspecStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stowflow.transfer import leases

    monkeypatch.setattr(leases, "WAIT_POLL_S", 0.05)
    with leases.gc_lock(store, "p") as lock:
        listed: list[dict[str, ObjectInfo]] = []
        with push_lease(store, "p") as lease:
            waiter = threading.Thread(
                target=lambda: listed.append(lease.list_store(layout.meta_prefix("p"))))
            waiter.start()
            time.sleep(0.4)
            assert waiter.is_alive() and not listed  # waiting for the gc
            store.delete([lock.key])
            waiter.join(timeout=10)
            assert listed and lock.key not in listed[0]


def test_a_dead_local_gcs_lock_does_not_hold_pushes_up(store: FsspecStore) -> None:
    import socket

    store.put(f"{leases_prefix('p')}gc-{int(time.time())}-killed",
              f"{socket.gethostname()} pid {dead_pid()}\n".encode())
    with push_lease(store, "p") as lease:
        lease.list_store(layout.meta_prefix("p"))  # returns at once
    assert len(transfer.leases.stale_leases(store, "p")) == 1
