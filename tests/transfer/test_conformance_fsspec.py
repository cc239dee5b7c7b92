"""The ObjectStore conformance suite against core's fsspec stores (memory:// and file://)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest
from stowflow.testing.conformance import ObjectStoreConformance
from stowflow.transfer import FsspecStore
from stowflow.transfer.store import ObjectStore


class TestMemoryStoreConformance(ObjectStoreConformance):
    """fsspec's in-memory filesystem holds every hostile key verbatim."""

    @pytest.fixture
    def object_store(self) -> Iterator[ObjectStore]:
        fs = fsspec.filesystem("memory")
        root = f"/conformance-{uuid.uuid4().hex}"
        yield FsspecStore(fs, root, label=f"memory://{root.lstrip('/')}")
        if fs.exists(root):
            fs.rm(root, recursive=True)


class TestLocalStoreConformance(ObjectStoreConformance):
    """A local folder: the OS resolves ``..`` and ``//``, so only a backslash key survives."""

    hostile_keys = ("a\\b",)

    @pytest.fixture
    def object_store(self, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
        root: Path = tmp_path_factory.mktemp("bucket")
        yield FsspecStore(fsspec.filesystem("file"), str(root), label=f"file://{root}")


class TestMemoryStoreAtBucketRoot(ObjectStoreConformance):
    """The same suite with the empty prefix: the bucket root is the project."""

    @pytest.fixture
    def store_prefix(self) -> str:
        return ""

    @pytest.fixture
    def object_store(self) -> Iterator[ObjectStore]:
        fs = fsspec.filesystem("memory")
        root = f"/conformance-{uuid.uuid4().hex}"
        yield FsspecStore(fs, root, label=f"memory://{root.lstrip('/')}")
        if fs.exists(root):
            fs.rm(root, recursive=True)
