"""The gc/push protocol, property-tested: the real ``gc`` and ``push`` run in threads over
one store, and hypothesis chooses which of them makes its next store request, one request
at a time. Whatever the interleaving, every manifest left in the store is whole and
``HEAD`` pulls to a tree that was pushed.

This is a model checker over the real code rather than over a model of it: each store
request is a step, the schedule is the search space, and hypothesis shrinks a failing
schedule to the few steps that break the invariant (on the code before the gc lock it
finds "gc lists, the push reuses and finishes, gc deletes" within a few examples).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import fsspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stowflow import transfer
from stowflow.errors import StorageError
from stowflow.testing.conformance import read_tree, write_tree
from stowflow.transfer import FsspecStore, leases
from stowflow.transfer import layout as keys
from stowflow.transfer.instrument import CountingStore
from stowflow.transfer.refs import read_head
from stowflow.transfer.store import ObjectStore

STEP_LIMIT = 400  # after this many drawn steps the schedule goes round-robin (no livelock)


class Aborted(Exception):
    """Raised in an actor whose example hypothesis abandoned."""


class Scheduler:
    """Lets one actor's store request through at a time, in the order ``choose`` picks."""

    def __init__(self, actors: list[str]) -> None:
        self.actors = actors
        self.cond = threading.Condition()
        self.waiting: set[str] = set()
        self.done: set[str] = set()
        self.granted: str | None = None
        self.aborted = False

    def abort(self) -> None:
        """Release every actor (the example was abandoned); their requests raise Aborted."""
        with self.cond:
            self.aborted = True
            self.cond.notify_all()

    def gate(self, actor: str) -> None:
        """Block ``actor``'s request until the scheduler grants it."""
        with self.cond:
            self.waiting.add(actor)
            self.cond.notify_all()
            assert self.cond.wait_for(lambda: self.granted == actor or self.aborted,
                                      timeout=30)
            if self.aborted:
                raise Aborted(actor)
            self.granted = None
            self.waiting.discard(actor)
            self.cond.notify_all()

    def finish(self, actor: str) -> None:
        """Record that ``actor`` has returned."""
        with self.cond:
            self.done.add(actor)
            self.cond.notify_all()

    def run(self, choose: Callable[[list[str], int], str]) -> int:
        """Grant requests until every actor is done; return the number of steps."""
        steps = 0
        with self.cond:
            while True:
                settled = self.cond.wait_for(
                    lambda: all(a in self.waiting or a in self.done for a in self.actors)
                    and self.granted is None, timeout=30)
                assert settled, "an actor is stuck outside the store"
                ready = sorted(self.waiting)
                if not ready:
                    return steps
                self.granted = choose(ready, steps)
                steps += 1
                self.cond.notify_all()


class GatedStore(CountingStore):
    """Every request of one actor passes the scheduler's gate first."""

    def __init__(self, inner: ObjectStore, scheduler: Scheduler, actor: str) -> None:
        super().__init__(inner)
        self.scheduler, self.actor = scheduler, actor

    def _record(self, kind: str, key: str) -> None:
        super()._record(kind, key)
        self.scheduler.gate(self.actor)


def whole(store: ObjectStore, prefix: str) -> list[str]:
    """Return what is missing: every key a manifest left in the store references."""
    present = {info.key for info in store.list(keys.meta_prefix(prefix))}
    missing = []
    for info in transfer.list_versions(store, prefix):
        doc = transfer.versions.load_manifest(store, prefix, info.id,
                                              transfer.versions.ContentCache())
        needed = {keys.pack_key(prefix, p) for p in doc.packs}
        needed |= {keys.object_key(prefix, e.sha256) for e in doc.files
                   if e.location == "object"}
        missing += sorted(needed - present)
    return missing


TREES = {
    "old": {"big.bin": bytes(range(256)) * 5000, "a.py": b"old\n" * 40, "b.py": b"kept\n"},
    "new": {"a.py": b"new\n"},
    "other": {"big.bin": bytes(range(256)) * 5000, "c.py": b"other\n"},
}


@pytest.fixture(autouse=True)
def no_poll_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    # A push waiting for gc polls through the gate; sleeping between polls only slows.
    monkeypatch.setattr(leases, "WAIT_POLL_S", 0.0)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(data=st.data(), pushes=st.sampled_from([("old",), ("other",), ("old", "other")]))
def test_any_interleaving_of_gc_and_pushes_keeps_every_version_whole(
    tmp_path: Path, data: st.DataObject, pushes: tuple[str, ...]
) -> None:
    fs = fsspec.filesystem("memory")
    # A fresh root per example: an abandoned example's actors can leave a gc lock held by
    # this (live) process behind, and a later example reusing the root would wait on it.
    root = f"/protocol-{uuid.uuid4().hex}"
    store = FsspecStore(fs, root, max_concurrency=1)  # one request in flight per actor
    srcs: dict[str, Path] = {}
    for name, files in TREES.items():
        srcs[name] = tmp_path / f"{root.strip('/')}-{name}"
        write_tree(srcs[name], files)
    transfer.push(srcs["old"], store, "p")
    transfer.push(srcs["new"], store, "p")  # old's own objects are garbage for keep=1

    actors = ["gc", *(f"push-{n}-{name}" for n, name in enumerate(pushes))]
    scheduler = Scheduler(actors)
    results: dict[str, object] = {}

    def act(actor: str) -> None:
        gated = GatedStore(store, scheduler, actor)
        try:
            if actor == "gc":
                results[actor] = transfer.gc(gated, "p", keep=1)
            else:
                results[actor] = transfer.push(srcs[actor.split("-", 2)[2]], gated, "p")
        except (StorageError, Aborted) as exc:
            results[actor] = exc
        finally:
            scheduler.finish(actor)

    threads = [threading.Thread(target=act, args=(a,), daemon=True) for a in actors]
    for thread in threads:
        thread.start()

    def choose(ready: list[str], step: int) -> str:
        if step >= STEP_LIMIT:
            return ready[step % len(ready)]
        return data.draw(st.sampled_from(ready), label=f"step {step}")

    try:
        scheduler.run(choose)
    finally:
        scheduler.abort()  # a draw that ends the example early must not strand the actors
        for thread in threads:
            thread.join(timeout=30)

    try:
        check_outcome(store, root, tmp_path, pushes, actors, results)
    finally:
        fs.rm(root, recursive=True)


def check_outcome(store: ObjectStore, root: str, tmp_path: Path, pushes: tuple[str, ...],
                  actors: list[str], results: dict[str, object]) -> None:
    """Assert the protocol's invariant on what the interleaving left in the store."""
    gc_result = results["gc"]
    assert not isinstance(gc_result, StorageError) or "in progress" in gc_result.message
    for actor in actors[1:]:
        assert not isinstance(results[actor], BaseException), results[actor]
    assert whole(store, "p") == []
    head = read_head(store, "p")
    assert head is not None
    dest = tmp_path / f"{root.strip('/')}-pulled"
    transfer.pull(store, "p", dest)
    assert read_tree(dest) in [{k: (v, False) for k, v in TREES[n].items()} for n in pushes]
