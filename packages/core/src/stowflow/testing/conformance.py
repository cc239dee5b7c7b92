"""The ObjectStore conformance suite: every store proves it works with the sync engine.

Like fsspec's ``tests/abstract`` classes, a provider subclasses :class:`ObjectStoreConformance`
in a test module and supplies one fixture, ``object_store``, that yields a fresh, empty
:class:`~stowflow.transfer.store.ObjectStore` (a new bucket, or a unique root inside one).
Everything else — pushes, pulls, versions, gc, failure injection, concurrency — runs
through the real engine against that store, for both layouts (``packed`` and ``files``)::

    # packages/aws/tests/test_storage.py
    import pytest
    from stowflow.testing.conformance import ObjectStoreConformance

    class TestS3Conformance(ObjectStoreConformance):
        @pytest.fixture
        def object_store(self, s3_server):
            bucket = make_fresh_bucket(s3_server)
            store = S3ObjectStore(bucket, endpoint_url=s3_server.endpoint)
            yield store
            store.close()

Optional overrides (plain class attributes or fixtures):

- ``store_prefix`` (fixture, default ``"stowflow-conformance/project"``): the prefix the
  tests push under; override to exercise a bucket root (``""``) or a deep prefix.
- ``hostile_keys`` (class attribute): the hostile relative keys the store can hold
  verbatim, planted under the prefix to prove a pull refuses them. Default
  ``("../../x", "/abs", "a\\\\b")``; a store that normalises ``..`` or ``//`` (a local
  filesystem does) lists only what it can hold.
- ``large_file_size`` (class attribute, default 1.5 MiB): a file above the pack limit,
  so standalone objects are exercised; keep it small against slow servers.
- ``gc_race_trials``, ``gc_race_delay`` (class attributes): how many times the gc race
  test runs ``gc --keep 1`` through a :class:`~stowflow.transfer.instrument.DelayingStore`
  against a push that reuses what gc is collecting, and the delay per gc request.

Each test gets an isolated ``STOWFLOW_HOME`` (so a cold content cache) from
``stowflow.testing.fixtures``, which the root ``conftest.py`` loads. The store instance is
shared between threads in the concurrency tests, as the engine does.

What is counted: :class:`~stowflow.transfer.instrument.CountingStore` wraps the store and
records every ``list``/``get``/``put``/``delete``/``head`` call, so "an unchanged re-pull
fetches no object" means exactly one ``get`` (``HEAD``), and "a one-file change" means one
content ``put`` plus the manifest and ``HEAD``. Failures are injected with
:class:`~stowflow.transfer.instrument.FailingStore` (the Nth ``get`` raises). A store that
lists no etags skips only the foreign-folder re-pull test (it then re-fetches such folders).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stowflow import transfer
from stowflow.errors import (
    StorageError,
    StorageNotFoundError,
    StorageTransientError,
    StorageUnreachableError,
    UnsafePathError,
)
from stowflow.transfer import layout as keys
from stowflow.transfer import manifest as mf
from stowflow.transfer.instrument import CountingStore, DelayingStore, FailingStore
from stowflow.transfer.leases import leases_prefix
from stowflow.transfer.materialise import wait_for_cleanup
from stowflow.transfer.store import ObjectStore

Tree = dict[str, tuple[bytes, bool]]  # relpath -> (content, executable)

LAYOUTS = ("packed", "files")


def write_tree(root: Path, files: dict[str, bytes | tuple[bytes, bool]]) -> Tree:
    """Create ``files`` under ``root`` (``{relpath: bytes | (bytes, executable)}``); return them."""
    tree: Tree = {}
    for rel, spec in files.items():
        data, executable = spec if isinstance(spec, tuple) else (spec, False)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            os.chmod(path, 0o644)
            path.unlink()
        path.write_bytes(data)
        os.chmod(path, 0o755 if executable else 0o644)
        tree[rel] = (data, executable)
    return tree


def read_tree(root: Path) -> Tree:
    """Return every file under ``root`` as ``{relpath: (content, executable)}``."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), bool(p.stat().st_mode & 0o100))
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def leftovers(parent: Path) -> list[str]:
    """Return the names of temporary pull folders left in ``parent`` (once replaced trees,
    which are deleted in the background, are gone)."""
    wait_for_cleanup(timeout=60)
    return [p.name for p in parent.iterdir() if ".stowflow-" in p.name]


def race_gc_against_push(store: ObjectStore, prefix: str, tmp_path: Path, *, trials: int,
                         delay: tuple[float, float], large_file_size: int = 1536 * 1024,
                         ) -> Counter[str]:
    """Race ``gc --keep 1`` (through a seeded :class:`DelayingStore`) against a push that
    reuses what gc is collecting, ``trials`` times; assert HEAD pulls whole after each.

    Each trial pushes tree *old* then *new* under its own prefix (so old's objects are
    garbage), starts gc in a thread and, after a trial-seeded pause, pushes *old* again.
    gc may refuse (a push is in progress); anything else is a failure. Returns how many
    trials ended with ``gc ran`` and ``gc refused``.
    """
    outcomes: Counter[str] = Counter()
    for trial in range(trials):
        where = "/".join(p for p in (prefix, f"race-{trial}") if p)
        old: dict[str, bytes | tuple[bytes, bool]] = {"big.bin": os.urandom(large_file_size),
               "a.py": f"old {trial}\n".encode() * 40, "b.py": b"kept\n"}
        src_old = tmp_path / f"race-{trial}" / "old"
        src_new = tmp_path / f"race-{trial}" / "new"
        tree_old = write_tree(src_old, old)
        write_tree(src_new, {"a.py": b"new\n"})
        transfer.push(src_old, store, where)
        transfer.push(src_new, store, where)  # old's objects are garbage now
        slow = DelayingStore(store, delay, seed=trial)
        refused: list[StorageError] = []

        def collect(slow: ObjectStore = slow, where: str = where,
                    refused: list[StorageError] = refused) -> None:
            try:
                transfer.gc(slow, where, keep=1)
            except StorageError as exc:
                refused.append(exc)

        collector = threading.Thread(target=collect)
        collector.start()
        # Start the push at a different point of gc's run in each trial.
        time.sleep(random.Random(trial).uniform(0, 12 * delay[1]))
        pushed = transfer.push(src_old, store, where)
        collector.join()
        assert not refused or "in progress" in refused[0].message, refused
        outcomes["gc refused" if refused else "gc ran"] += 1
        dest = tmp_path / f"race-{trial}" / "pulled"
        pulled = transfer.pull(store, where, dest)
        assert pulled.version == pushed.version
        assert read_tree(dest) == tree_old, f"trial {trial}: HEAD is not the pushed tree"
    return outcomes


class ObjectStoreConformance:
    """Base class of the conformance suite; subclass it and supply ``object_store``."""

    hostile_keys: ClassVar[tuple[str, ...]] = ("../../x", "/abs", "a\\b")
    large_file_size: ClassVar[int] = 1536 * 1024
    #: How many times the gc race test races a slowed gc against a push, and the delay
    #: (seconds, low-high) added to each of gc's requests.
    gc_race_trials: ClassVar[int] = 4
    gc_race_delay: ClassVar[tuple[float, float]] = (0.0, 0.05)

    # --- fixtures a subclass supplies or may override ------------------------------------

    @pytest.fixture
    def object_store(self) -> Iterator[ObjectStore]:
        """A fresh, empty store; every subclass overrides this fixture."""
        raise NotImplementedError("subclass ObjectStoreConformance and define `object_store`")
        yield  # pragma: no cover

    @pytest.fixture
    def store_prefix(self) -> str:
        """The prefix the suite works under."""
        return "stowflow-conformance/project"

    @pytest.fixture(params=LAYOUTS)
    def layout(self, request: pytest.FixtureRequest) -> str:
        """Each layout-sensitive test runs for ``packed`` and ``files``."""
        return str(request.param)

    # --- helpers -------------------------------------------------------------------------

    def sample_files(self) -> dict[str, Any]:
        """The round-trip tree: nested folders, empty, unicode, spaces, exec, large, binary."""
        return {
            "flows/etl.py": b"def etl():\n    return 42\n",
            "flows/sub/deep/config.yaml": b"name: deep\n",
            "empty.txt": b"",
            "nested/empty/also-empty": b"",
            "données/naïve file ✓.py": "print('héllo')\n".encode(),
            "with space/another file.txt": b"spaces\n",
            "bin/run.sh": (b"#!/bin/sh\necho run\n", True),
            "bin/empty-exec": (b"", True),
            "data/blob.bin": bytes(range(256)) * 64,
            "data/large.bin": os.urandom(self.large_file_size),
            "dup/a.txt": b"same bytes\n",
            "dup/b.txt": b"same bytes\n",
        }

    def make(self, tmp_path: Path, name: str, files: dict[str, Any]) -> tuple[Path, Tree]:
        """Write ``files`` into ``tmp_path/name`` and return (folder, tree)."""
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        return root, write_tree(root, files)

    def version_tree(self, index: int) -> dict[str, Any]:
        """A small tree whose every file says which version it belongs to."""
        return {f"f{n}.txt": f"version {index} file {n}\n".encode() * (n + 1) for n in range(6)}

    # --- round trips ---------------------------------------------------------------------

    def test_round_trip(self, object_store: ObjectStore, store_prefix: str, layout: str,
                        tmp_path: Path) -> None:
        src, tree = self.make(tmp_path, "src", self.sample_files())
        pushed = transfer.push(src, object_store, store_prefix, layout=layout)
        assert pushed.version and pushed.changed
        assert pushed.files == len(tree)
        assert pushed.total_bytes == sum(len(d) for d, _ in tree.values())
        pulled = transfer.pull(object_store, store_prefix, tmp_path / "dest")
        assert pulled.version == pushed.version
        assert pulled.files == len(tree)
        assert read_tree(tmp_path / "dest") == tree

    def test_push_of_unchanged_tree_writes_nothing(self, object_store: ObjectStore,
                                                   store_prefix: str, layout: str,
                                                   tmp_path: Path) -> None:
        src, _ = self.make(tmp_path, "src", self.version_tree(1))
        first = transfer.push(src, object_store, store_prefix, layout=layout)
        counting = CountingStore(object_store)
        again = transfer.push(src, counting, store_prefix, layout=layout)
        assert again.version == first.version
        assert not again.changed
        assert counting.calls["put"] == 0 and counting.calls["delete"] == 0
        assert again.skipped == again.files

    def test_dry_run_lists_and_writes_nothing(self, object_store: ObjectStore,
                                              store_prefix: str, layout: str,
                                              tmp_path: Path) -> None:
        src, _ = self.make(tmp_path, "src", {
            "keep.py": b"x", ".git/config": b"[core]", "__pycache__/m.pyc": b"c",
            "logs/a.log": b"log", "logs/keep.log": b"kept", ".env": b"TOKEN=1",
            ".stowflowignore": b"*.log\n!keep.log\n",
        })
        counting = CountingStore(object_store)
        result = transfer.push(src, counting, store_prefix, layout=layout, dry_run=True)
        assert result.version is None
        assert sorted(result.paths) == [".stowflowignore", "keep.py", "logs/keep.log"]
        assert result.total_bytes == len(b"*.log\n!keep.log\n") + 1 + 4
        assert counting.calls["put"] == 0 and counting.calls["delete"] == 0
        assert not list(object_store.list(store_prefix))

    def test_pinned_version_and_listing(self, object_store: ObjectStore, store_prefix: str,
                                        layout: str, tmp_path: Path) -> None:
        src1, tree1 = self.make(tmp_path, "v1", self.version_tree(1))
        src2, tree2 = self.make(tmp_path, "v2", self.version_tree(2))
        v1 = transfer.push(src1, object_store, store_prefix, layout="packed").version
        v2 = transfer.push(src2, object_store, store_prefix, layout=layout).version
        versions = transfer.list_versions(object_store, store_prefix)
        assert [v.id for v in versions] == [v2, v1]
        assert [v.current for v in versions] == [True, False]
        assert versions[0].parent == v1 and versions[0].layout == layout
        pulled = transfer.pull(object_store, store_prefix, tmp_path / "dest", version=v1)
        assert pulled.version == v1 and read_tree(tmp_path / "dest") == tree1
        transfer.pull(object_store, store_prefix, tmp_path / "dest")
        assert read_tree(tmp_path / "dest") == tree2

    # --- the prefix and the keys ---------------------------------------------------------

    def test_prefix_is_a_directory(self, object_store: ObjectStore, store_prefix: str,
                                   layout: str, tmp_path: Path) -> None:
        src_a, tree_a = self.make(tmp_path, "a", {"a.txt": b"folder\n"})
        src_b, _ = self.make(tmp_path, "b", {"b.txt": b"folder-2\n"})
        transfer.push(src_a, object_store, f"{store_prefix}/folder", layout=layout)
        transfer.push(src_b, object_store, f"{store_prefix}/folder-2", layout=layout)
        transfer.pull(object_store, f"{store_prefix}/folder", tmp_path / "dest")
        assert read_tree(tmp_path / "dest") == tree_a

    def test_foreign_folder_is_listed_and_fetched(self, object_store: ObjectStore,
                                                  store_prefix: str, tmp_path: Path) -> None:
        base = f"{store_prefix}/foreign" if store_prefix else "foreign"
        object_store.put(f"{base}/top.py", b"top\n")
        object_store.put(f"{base}/pkg/mod.py", b"mod\n")
        object_store.put(f"{base}/pkg/", b"")  # a folder marker, as consoles create
        object_store.put(f"{base}/naïve name.txt", b"unicode\n")
        object_store.put(f"{base}-2/elsewhere.py", b"not mine\n")
        pulled = transfer.pull(object_store, base, tmp_path / "dest")
        assert pulled.version is None
        assert read_tree(tmp_path / "dest") == {
            "top.py": (b"top\n", False), "pkg/mod.py": (b"mod\n", False),
            "naïve name.txt": (b"unicode\n", False),
        }

    def test_unchanged_foreign_folder_repull_fetches_nothing(self, object_store: ObjectStore,
                                                             store_prefix: str,
                                                             tmp_path: Path) -> None:
        base = f"{store_prefix}/plain" if store_prefix else "plain"
        for n in range(5):
            object_store.put(f"{base}/dir{n % 2}/file{n}.txt", f"file {n}\n".encode())
        if any(info.etag is None for info in object_store.list(f"{base}/")):
            pytest.skip("this store lists no etags, so a foreign folder is always re-fetched")
        transfer.pull(object_store, base, tmp_path / "dest")
        counting = CountingStore(object_store)
        again = transfer.pull(counting, base, tmp_path / "dest")
        assert again.fetched_objects == 0 and counting.calls["get"] == 1  # HEAD only
        object_store.put(f"{base}/dir0/file0.txt", b"changed\n")
        changed = transfer.pull(counting, base, tmp_path / "dest")
        assert changed.fetched_objects == 1
        assert (tmp_path / "dest/dir0/file0.txt").read_bytes() == b"changed\n"

    def test_hostile_keys_in_foreign_folder_are_refused(self, object_store: ObjectStore,
                                                       store_prefix: str,
                                                       tmp_path: Path) -> None:
        if not self.hostile_keys:
            pytest.skip("this store normalises every hostile key away (hostile_keys is empty)")
        for n, hostile in enumerate(self.hostile_keys):
            base = f"{store_prefix}/hostile{n}" if store_prefix else f"hostile{n}"
            object_store.put(f"{base}/ok.txt", b"fine\n")
            object_store.put(f"{base}/{hostile}", b"evil\n")
            work = tmp_path / f"work{n}"
            work.mkdir()
            with pytest.raises(UnsafePathError) as info:
                transfer.pull(object_store, base, work / "dest")
            assert repr(hostile)[1:-1] in str(info.value) or hostile in str(info.value)
            assert object_store.name in str(info.value)
            assert list(work.iterdir()) == [], "a refused pull wrote something"
            assert not (tmp_path / "x").exists() and not Path("/abs").exists()

    @pytest.mark.parametrize("bad_path", ["../evil.py", "/etc/evil.py", "a\\b.py", "a/../../b"])
    def test_hostile_manifest_path_is_refused(self, object_store: ObjectStore,
                                              store_prefix: str, tmp_path: Path,
                                              bad_path: str) -> None:
        data = b"evil\n"
        entry = mf.FileEntry(bad_path, len(data), mf.version_id(data), False, "object")
        doc = mf.build([entry], layout="packed", parent=None)
        object_store.put(keys.object_key(store_prefix, entry.sha256), data)
        body = doc.to_bytes()
        version = mf.version_id(body)
        object_store.put(keys.manifest_key(store_prefix, version), body)
        object_store.put(keys.head_key(store_prefix), f"{version}\n".encode())
        work = tmp_path / "work"
        work.mkdir()
        with pytest.raises(UnsafePathError):
            transfer.pull(object_store, store_prefix, work / "dest")
        assert list(work.iterdir()) == []

    def test_missing_prefix_is_not_found(self, object_store: ObjectStore, store_prefix: str,
                                         tmp_path: Path) -> None:
        with pytest.raises(StorageNotFoundError) as info:
            transfer.pull(object_store, f"{store_prefix}/nothing-here", tmp_path / "dest")
        assert object_store.name in str(info.value)
        assert not (tmp_path / "dest").exists()

    # --- incremental behaviour, counted -------------------------------------------------

    def test_unchanged_repull_fetches_no_object(self, object_store: ObjectStore,
                                                store_prefix: str, layout: str,
                                                tmp_path: Path) -> None:
        src, tree = self.make(tmp_path, "src", self.sample_files())
        version = transfer.push(src, object_store, store_prefix, layout=layout).version
        transfer.pull(object_store, store_prefix, tmp_path / "dest")
        counting = CountingStore(object_store)
        again = transfer.pull(counting, store_prefix, tmp_path / "dest")
        assert again.version == version and again.fetched_objects == 0
        assert counting.keys_of("get") == [keys.head_key(store_prefix)]
        assert counting.requests <= 2
        assert read_tree(tmp_path / "dest") == tree
        counting.reset()
        transfer.pull(counting, store_prefix, tmp_path / "second")
        assert counting.keys_of("get") == [keys.head_key(store_prefix)]
        assert read_tree(tmp_path / "second") == tree

    def test_one_file_change_pushes_one_object_and_pulls_one(self, object_store: ObjectStore,
                                                            store_prefix: str, layout: str,
                                                            tmp_path: Path) -> None:
        files = {f"pkg/m{n:03d}.py": f"# module {n}\n".encode() * 40 for n in range(60)}
        src, _ = self.make(tmp_path, "src", files)
        transfer.push(src, object_store, store_prefix, layout=layout)
        transfer.pull(object_store, store_prefix, tmp_path / "dest")
        tree = write_tree(src, {"pkg/m030.py": b"# changed\n"})
        counting = CountingStore(object_store)
        pushed = transfer.push(src, counting, store_prefix, layout=layout)
        leases = [k for k in counting.keys_of("put") if k.startswith(leases_prefix(store_prefix))]
        content_puts = [k for k in counting.keys_of("put") if k != keys.head_key(store_prefix)
                        and "/.stowflow/manifests/" not in f"/{k}" and k not in leases]
        assert len(content_puts) == 1, content_puts
        assert pushed.uploaded_objects == 1 and pushed.skipped == len(files) - 1
        # the content, the push lease, the manifest, HEAD; the lease is deleted at the end
        assert counting.calls["put"] == 4 and len(leases) == 1
        assert counting.keys_of("delete") == leases
        counting.reset()
        pulled = transfer.pull(counting, store_prefix, tmp_path / "dest")
        assert pulled.fetched_objects == 1 and pulled.cached_files == len(files) - 1
        data_gets = [k for k in counting.keys_of("get") if k != keys.head_key(store_prefix)]
        assert len(data_gets) == 1, data_gets
        expected = {k: (v, False) for k, v in files.items()} | tree
        assert read_tree(tmp_path / "dest") == expected

    # --- versions ------------------------------------------------------------------------

    def test_rollback(self, object_store: ObjectStore, store_prefix: str, tmp_path: Path) -> None:
        src1, tree1 = self.make(tmp_path, "v1", self.version_tree(1))
        src2, tree2 = self.make(tmp_path, "v2", self.version_tree(2))
        v1 = transfer.push(src1, object_store, store_prefix).version
        v2 = transfer.push(src2, object_store, store_prefix).version
        assert v1 and v2 and v1 != v2
        transfer.rollback(object_store, store_prefix, v1)
        assert transfer.pull(object_store, store_prefix, tmp_path / "d").version == v1
        assert read_tree(tmp_path / "d") == tree1
        assert [v.id for v in transfer.list_versions(object_store, store_prefix)
                if v.current] == [v1]
        transfer.rollback(object_store, store_prefix, v2)
        transfer.pull(object_store, store_prefix, tmp_path / "d")
        assert read_tree(tmp_path / "d") == tree2
        with pytest.raises(StorageNotFoundError):
            transfer.rollback(object_store, store_prefix, "0" * 64)

    def test_rollback_of_overwritten_plain_version_is_refused(self, object_store: ObjectStore,
                                                              store_prefix: str,
                                                              tmp_path: Path) -> None:
        src, _ = self.make(tmp_path, "src", {"a.txt": b"one\n"})
        v1 = transfer.push(src, object_store, store_prefix, layout="files").version
        write_tree(src, {"a.txt": b"two, longer\n"})
        transfer.push(src, object_store, store_prefix, layout="files")
        with pytest.raises(StorageError, match="plain-layout"):
            transfer.rollback(object_store, store_prefix, str(v1))

    def test_gc_keeps_what_kept_versions_need(self, object_store: ObjectStore,
                                              store_prefix: str, tmp_path: Path) -> None:
        shared = b"in versions 0 and 1\n"
        specs = [
            {"shared.txt": shared, "a.txt": b"a0\n", "big.bin": os.urandom(self.large_file_size)},
            {"shared.txt": shared, "a.txt": b"a1\n"},
            {"a.txt": b"a2\n"},
        ]
        ids: list[str] = []
        trees = []
        for n, spec in enumerate(specs):
            src, tree = self.make(tmp_path, f"v{n}", spec)
            ids.append(str(transfer.push(src, object_store, store_prefix).version))
            trees.append(tree)
        transfer.rollback(object_store, store_prefix, ids[1])
        result = transfer.gc(object_store, store_prefix, keep=1)
        assert sorted(result.kept_versions) == sorted(ids[1:])  # the newest, and HEAD
        assert result.deleted_versions == [ids[0]]
        # big.bin was only in version 0; shared.txt's pack is still needed by version 1.
        assert result.deleted_objects == 1
        assert result.deleted_bytes == self.large_file_size
        with pytest.raises(StorageNotFoundError):
            transfer.pull(object_store, store_prefix, tmp_path / "d0", version=ids[0])
        for n in (1, 2):
            transfer.pull(object_store, store_prefix, tmp_path / f"d{n}", version=ids[n])
            assert read_tree(tmp_path / f"d{n}") == trees[n]
        again = transfer.gc(object_store, store_prefix, keep=1)
        assert again.deleted_versions == [] and again.deleted_objects == 0
        with pytest.raises(StorageError):
            transfer.gc(object_store, store_prefix, keep=0)

    def test_gc_racing_a_push_never_deletes_what_head_needs(
        self, object_store: ObjectStore, store_prefix: str, tmp_path: Path
    ) -> None:
        """gc --keep 1, every request slowed, races a push of the tree gc is collecting
        (the push reuses its objects): HEAD is always whole, whoever wins."""
        outcomes = race_gc_against_push(object_store, store_prefix, tmp_path,
                                        trials=self.gc_race_trials, delay=self.gc_race_delay,
                                        large_file_size=self.large_file_size)
        assert sum(outcomes.values()) == self.gc_race_trials

    # --- failures and concurrency --------------------------------------------------------

    @pytest.mark.parametrize("nth", [1, 2, 3])
    def test_failure_at_nth_get_leaves_dest_intact(self, object_store: ObjectStore,
                                                   store_prefix: str, layout: str,
                                                   tmp_path: Path, nth: int) -> None:
        src1, tree1 = self.make(tmp_path, "v1", self.version_tree(1))
        files2 = self.version_tree(2) | {"big.bin": os.urandom(self.large_file_size)}
        src2, _ = self.make(tmp_path, "v2", files2)
        transfer.push(src1, object_store, store_prefix, layout=layout)
        transfer.pull(object_store, store_prefix, tmp_path / "dest")
        transfer.push(src2, object_store, store_prefix, layout=layout)
        failing = FailingStore(object_store, kind="get", at=nth, error=StorageUnreachableError)
        with pytest.raises(StorageUnreachableError):
            transfer.pull(failing, store_prefix, tmp_path / "dest")
        assert failing.triggered == 1
        assert read_tree(tmp_path / "dest") == tree1
        assert leftovers(tmp_path) == []

    def test_transient_failures_are_retried(self, object_store: ObjectStore, store_prefix: str,
                                            layout: str, tmp_path: Path) -> None:
        src, tree = self.make(tmp_path, "src", self.version_tree(3))
        transfer.push(src, object_store, store_prefix, layout=layout)
        flaky = FailingStore(object_store, kind="get", at=1, times=2, error=StorageTransientError)
        transfer.pull(flaky, store_prefix, tmp_path / "dest")
        assert flaky.triggered == 2
        assert read_tree(tmp_path / "dest") == tree

    def test_reader_during_concurrent_push_sees_a_whole_version(
            self, object_store: ObjectStore, store_prefix: str, layout: str,
            tmp_path: Path) -> None:
        trees = []
        sources = []
        for n in range(5):
            src, tree = self.make(tmp_path, f"v{n}", self.version_tree(n))
            sources.append(src)
            trees.append(tree)
        transfer.push(sources[0], object_store, store_prefix, layout=layout)
        errors: list[BaseException] = []

        def pusher() -> None:
            try:
                for src in sources[1:]:
                    transfer.push(src, object_store, store_prefix, layout=layout)
            except BaseException as exc:  # reported below
                errors.append(exc)

        thread = threading.Thread(target=pusher)
        thread.start()
        pulls = 0
        while thread.is_alive() or pulls < 3:
            dest = tmp_path / f"read{pulls}"
            transfer.pull(object_store, store_prefix, dest)
            got = read_tree(dest)
            assert got in trees, "a pull produced a mix of versions"
            pulls += 1
        thread.join(timeout=120)
        assert not errors, errors
        transfer.pull(object_store, store_prefix, tmp_path / "final")
        assert read_tree(tmp_path / "final") == trees[-1]

    def test_two_concurrent_pulls_into_two_destinations(self, object_store: ObjectStore,
                                                        store_prefix: str, layout: str,
                                                        tmp_path: Path) -> None:
        src, tree = self.make(tmp_path, "src", self.sample_files())
        transfer.push(src, object_store, store_prefix, layout=layout)
        errors: list[BaseException] = []

        def puller(name: str) -> None:
            try:
                transfer.pull(object_store, store_prefix, tmp_path / name)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=puller, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        assert read_tree(tmp_path / "a") == tree
        assert read_tree(tmp_path / "b") == tree
