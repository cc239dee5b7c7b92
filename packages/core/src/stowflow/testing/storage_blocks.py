"""The suite every object-store provider's storage block subclasses (``ObjectStorageBlock``).

Like :mod:`stowflow.testing.conformance` for stores, a provider subclasses
:class:`ObjectStorageBlockSuite` in its ``tests/test_storage.py`` and supplies one fixture,
``storage_block``: a new, *unsaved* block on a fresh, empty bucket (or container), with
working credentials and its folder field set to ``"proj"``::

    class TestS3BucketBlock(ObjectStorageBlockSuite):
        @pytest.fixture
        def storage_block(self, credentials, s3_bucket):
            return S3Bucket(bucket_name=s3_bucket, credentials=credentials,
                            bucket_folder="proj")

Everything here goes through the block's public methods against the provider's real
server: paths under the folder, the key-safety rule (``..`` never leaves the folder),
``str`` and ``bytes`` content, the engine behind ``put_directory`` / ``get_directory``,
save and load with nested credentials, and the block as a ``flow.from_source`` source and a
``pull_with_block`` step on a worker. Provider-specific checks (the raw object seen by the
server, a provider's field normalisation) stay in the provider's own tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stowflow.errors import StorageNotFoundError, UnsafePathError
from stowflow.storage import ObjectStorageBlock


def _project(root: Path) -> Path:
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text("def etl():\n    return 1\n")
    (root / "notes.tmp").write_text("scratch\n")
    (root / "custom.ignore").write_text("*.tmp\n")
    return root


class ObjectStorageBlockSuite:
    """Tests every :class:`~stowflow.storage.ObjectStorageBlock` must pass."""

    @staticmethod
    def with_folder(block: ObjectStorageBlock, folder: str) -> ObjectStorageBlock:
        """Return a copy of ``block`` whose folder field is ``folder`` (validators run)."""
        data = {name: getattr(block, name) for name in type(block).model_fields}
        data[block.folder_field] = folder
        return type(block).model_validate(data)

    def test_is_a_storage_block_with_its_folder(self, storage_block: ObjectStorageBlock) -> None:
        assert isinstance(storage_block, ObjectStorageBlock)
        assert storage_block.folder_path == "proj"
        assert self.with_folder(storage_block, "/team/code/").folder_path == "team/code"

    def test_write_and_read_paths_under_the_folder(
            self, storage_block: ObjectStorageBlock) -> None:
        block = self.with_folder(storage_block, "team/code/")
        assert block.write_path("conf/settings.toml", b"x = 1") == "team/code/conf/settings.toml"
        assert block.write_path("notes/readme.txt", "hello") == "team/code/notes/readme.txt"
        assert block.read_path("conf/settings.toml") == b"x = 1"
        assert block.read_path("notes/readme.txt") == b"hello"
        with block.object_store() as store:
            assert sorted(info.key for info in store.list("")) == [
                "team/code/conf/settings.toml", "team/code/notes/readme.txt"]
        with pytest.raises(StorageNotFoundError):
            block.read_path("notes/missing.txt")

    def test_paths_resolve_inside_the_folder_and_never_leave_it(
            self, storage_block: ObjectStorageBlock) -> None:
        block = storage_block
        assert block.write_path("./flows/../flows/etl.py", b"x") == "proj/flows/etl.py"
        assert block.read_path("/flows//etl.py") == b"x"
        for escaping in ("../other/secret.txt", "flows/../../x", "..", "a/../../b"):
            with pytest.raises(UnsafePathError, match="would leave the folder"):
                block.read_path(escaping)
            with pytest.raises(UnsafePathError):
                block.write_path(escaping, b"no")
            with pytest.raises(UnsafePathError):
                block.get_directory(escaping, Path("unused"))
        with block.object_store() as store:
            assert [info.key for info in store.list("")] == ["proj/flows/etl.py"]

    def test_put_and_get_directory_go_through_the_engine(
            self, storage_block: ObjectStorageBlock, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> None:
        block = storage_block
        source = _project(tmp_path / "src")
        pushed = block.put_directory(source, "v1", ignore_file="custom.ignore")
        assert pushed.version and pushed.files == 2  # flows/etl.py and custom.ignore
        with block.object_store() as store:
            keys = [info.key for info in store.list("")]
        assert keys and all(key.startswith("proj/v1/") for key in keys)

        pulled = block.get_directory("v1", tmp_path / "out")
        assert pulled.version == pushed.version and pulled.directory == tmp_path / "out"
        assert (tmp_path / "out" / "flows" / "etl.py").read_text() == "def etl():\n    return 1\n"
        assert not (tmp_path / "out" / "notes.tmp").exists()

        monkeypatch.chdir(source)
        again = block.put_directory(to_path="v1", ignore_file="custom.ignore")  # the cwd
        assert again.version == pushed.version and again.uploaded_objects == 0
        # defaults: push the cwd to the folder itself, pull into a folder named after it
        assert block.put_directory().version
        monkeypatch.chdir(tmp_path)
        assert block.get_directory().directory == tmp_path / "proj"
        assert (tmp_path / "proj" / "notes.tmp").exists()
        assert block.get_directory(from_path="v1").directory == tmp_path / "v1"

    def test_saves_and_loads_with_its_nested_credentials(
            self, storage_block: ObjectStorageBlock) -> None:
        storage_block.save("code")
        loaded = type(storage_block).load("code")
        assert loaded.model_dump() == storage_block.model_dump()
        loaded.write_path("x", b"1")
        assert loaded.read_path("x") == b"1"

    def test_saved_block_is_a_flow_source_and_a_pull_step(
            self, storage_block: ObjectStorageBlock, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> None:
        from stowflow.steps import run_steps
        from stowflow.storage import BlockStorage, resolve

        storage_block.save("code")
        block = type(storage_block).load("code")
        block.put_directory(_project(tmp_path / "src"))

        storage = resolve(block)
        assert isinstance(storage, BlockStorage)
        slug = type(block).get_block_type_slug()
        assert storage.describe() == f"block {slug}/code"
        pulled = storage.pull(tmp_path / "deploy-time")
        assert pulled.directory == tmp_path / "deploy-time"
        assert (pulled.directory / "flows" / "etl.py").is_file()

        step = storage.to_pull_step()
        assert step == {"stowflow.deployments.steps.pull_with_block": {
            "block_document_name": "code", "block_type_slug": slug}}
        workspace = tmp_path / "workspace"
        workspace.mkdir()
        monkeypatch.chdir(workspace)
        outputs = run_steps([step])
        assert Path(outputs["directory"], "flows", "etl.py").is_file()
        assert outputs["version"] == pulled.version
        assert Path.cwd() == workspace  # the worker's process is still somewhere that exists
