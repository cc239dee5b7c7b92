"""Flow.from_source + deploy with real sources: local folder, git server, object store, block."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from pydantic import Field, SecretStr
from sqlalchemy import select
from stowflow import flow
from stowflow.blocks import Secret
from stowflow.db import DeploymentRecord, DeploymentVersionRecord, WorkPoolRecord, session
from stowflow.errors import DeploymentError, FlowError, StorageError, UnsupportedURLError
from stowflow.flows import Flow
from stowflow.steps import run_steps
from stowflow.storage import StorageBlock
from stowflow.testing import assert_no_secret

FLOW_SOURCE = '''
import numpy_is_not_installed_here_xyz  # deploy must not import the flow

from stowflow import flow

@flow(name="etl", log_prints=True)
def etl(name: str = "World", rows: list[int] | None = None, table: "pd.DataFrame" = None):
    """Load rows."""
    print(name)
'''


@pytest.fixture
def pool() -> str:
    with session() as db:
        db.add(WorkPoolRecord(name="my-pool"))
    return "my-pool"


@pytest.fixture
def code(tmp_path: Path) -> Path:
    root = tmp_path / "code"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text(FLOW_SOURCE)
    return root


def _record(deployment_id: str) -> DeploymentRecord:
    with session() as db:
        return db.get(DeploymentRecord, deployment_id)


def test_local_folder_metadata_without_importing(code: Path, pool: str) -> None:
    remote = flow.from_source(source=str(code), entrypoint="flows/etl.py:etl")
    assert isinstance(remote, Flow) and remote.name == "etl" and remote.description == "Load rows."
    schema = remote.parameter_schema
    assert schema["properties"]["name"]["default"] == "World"
    assert "array" in str(schema["properties"]["rows"])
    assert schema["properties"]["table"].get("type") is None  # unknown type: no constraint
    deployment_id = remote.deploy(name="local", work_pool_name=pool, parameters={"rows": [1]})
    record = _record(deployment_id)
    assert record.flow_name == "etl" and record.entrypoint == "flows/etl.py:etl"
    assert record.pull_steps == [
        {"stowflow.deployments.steps.set_working_directory": {"directory": str(code)}}]
    # calling the flow imports it for real, and the missing dependency is named
    with pytest.raises(FlowError, match="numpy_is_not_installed_here_xyz"):
        remote()


def test_instance_and_class_forms(code: Path) -> None:
    (code / "flows" / "etl.py").write_text(FLOW_SOURCE.replace("import numpy_is_not_installed_here_xyz", ""))

    @flow(log_prints=True, retries=2)
    def local_flow() -> None:
        pass

    via_instance = local_flow.from_source(source=code, entrypoint="flows/etl.py:etl")
    assert via_instance.log_prints and via_instance.retries == 2
    via_class = Flow.from_source(source=str(code), entrypoint="flows/etl.py:etl")
    assert via_class.name == "etl" and not via_class.log_prints
    assert via_class(name="ran") is None  # imported lazily and run here


def test_redeploy_records_a_new_version(code: Path, pool: str) -> None:
    remote = flow.from_source(source=str(code), entrypoint="flows/etl.py:etl")
    first = remote.deploy(name="d", work_pool_name=pool, tags=["a"])
    second = remote.deploy(name="d", work_pool_name=pool, tags=["b"], version="2")
    assert first == second
    with session() as db:
        versions = db.scalars(select(DeploymentVersionRecord).where(
            DeploymentVersionRecord.deployment_id == first)).all()
    assert sorted(v.snapshot["tags"][0] for v in versions) == ["a", "b"]
    assert _record(first).version == "2" and _record(first).version_number == 2


def test_deploy_without_source_or_image_says_use_from_source(pool: str) -> None:
    @flow
    def nowhere() -> None:
        pass

    with pytest.raises(DeploymentError) as info:
        nowhere.deploy(name="x", work_pool_name=pool)
    assert "from_source" in str(info.value)


def test_deploy_with_an_image_to_a_process_pool_is_refused(code: Path, pool: str) -> None:
    # It used to be recorded, and its runs then waited forever: no process worker runs images.
    @flow
    def baked(n: int = 1) -> int:
        return n

    with pytest.raises(DeploymentError) as info:
        baked.deploy(name="img", work_pool_name=pool, image="registry/app:1")
    assert "is a process pool: it cannot run an image" in str(info.value)
    assert "--type docker" in str(info.value)
    with pytest.raises(DeploymentError, match=r"does not use job variable\(s\) image"):
        flow.from_source(source=str(code), entrypoint="flows/etl.py:etl").deploy(
            name="img", work_pool_name=pool, job_variables={"image": "registry/app:1"})


def test_deploy_errors(code: Path, pool: str) -> None:
    remote = flow.from_source(source=str(code), entrypoint="flows/etl.py:etl")
    with pytest.raises(DeploymentError, match="work pool 'ghost' does not exist"):
        remote.deploy(name="d", work_pool_name="ghost")
    with pytest.raises(FlowError, match="parameter 'rows'"):
        remote.deploy(name="d", work_pool_name=pool, parameters={"rows": "not-a-list"})
    with pytest.raises(FlowError, match="has no parameter 'colour'"):
        remote.deploy(name="d", work_pool_name=pool, parameters={"colour": "red"})


def test_source_errors(code: Path, monkeypatch) -> None:
    with pytest.raises(FlowError, match="no function 'missing'"):
        flow.from_source(source=str(code), entrypoint="flows/etl.py:missing")
    (code / "sibling.py").write_text("def f():\n    pass\n")
    with pytest.raises(FlowError, match="outside the source root"):
        flow.from_source(source=str(code / "flows"), entrypoint="../sibling.py:f")
    with pytest.raises(StorageError, match="does not exist"):
        flow.from_source(source=str(code / "nope"), entrypoint="etl.py:etl")
    with pytest.raises(StorageError, match="cannot use int"):
        flow.from_source(source=3, entrypoint="etl.py:etl")
    with pytest.raises(UnsupportedURLError) as info:
        flow.from_source(source="weird-scheme://bucket/x", entrypoint="etl.py:etl")
    assert "stowflow plugins" in str(info.value)


def test_unknown_object_store_scheme_names_the_distribution(monkeypatch) -> None:
    from stowflow.plugins import reset_plugin_manager

    monkeypatch.setenv("STOWFLOW_PLUGINS", "no-providers")
    reset_plugin_manager()
    monkeypatch.setitem(sys.modules, "s3fs", None)  # the fsspec fallback cannot serve s3 either
    with pytest.raises(UnsupportedURLError) as info:
        flow.from_source(source="s3://bucket/folder", entrypoint="etl.py:etl")
    assert "install stowflow-aws" in str(info.value)


def test_git_source_with_secret_credentials(git_remote, pool: str, tmp_path: Path, monkeypatch) -> None:
    from stowflow.storage import GitRepository

    token = "glpat-Sup3rSecretValue"
    git_remote.accept({("x-access-token", token), ("oauth2", token), ("git", token)})
    repo = git_remote.create_repo("org/flows", {"flows/etl.py": FLOW_SOURCE})
    Secret(value=SecretStr(token)).save("git-token")
    monkeypatch.chdir(tmp_path)
    source = GitRepository(url=repo.url, credentials=Secret.load("git-token"), branch="main")
    remote = flow.from_source(source=source, entrypoint="flows/etl.py:etl")
    assert remote.name == "etl"
    assert not (tmp_path / "flows").exists()  # the deploy-time checkout is in the cache
    record = _record(remote.deploy(name="git", work_pool_name=pool))
    step = record.pull_steps[0]["stowflow.deployments.steps.git_clone"]
    assert step["repository"] == repo.url
    assert step["credentials"] == "{{ stowflow.blocks.secret.git-token }}"
    with session() as db:
        snapshots = [v.snapshot for v in db.scalars(select(DeploymentVersionRecord))]
    assert_no_secret(token, repr(record.pull_steps), repr(snapshots))


def test_object_store_source_is_cached_for_the_first_run(code: Path, pool: str, tmp_path) -> None:
    from stowflow import transfer
    from stowflow.transfer import open_store

    url = f"memory://sf-from-source-{tmp_path.name}/code"
    store, prefix = open_store(url, {})
    with store:
        transfer.push(code, store, prefix)
    remote = flow.from_source(source=url, entrypoint="flows/etl.py:etl")
    assert remote.name == "etl"
    record = _record(remote.deploy(name="mem", work_pool_name=pool))
    (step_name, kwargs), = record.pull_steps[0].items()
    assert step_name == "stowflow.deployments.steps.pull_from_remote_storage"
    assert kwargs["url"] == url
    store, prefix = open_store(url, {})
    with store:
        again = transfer.pull(store, prefix, tmp_path / "worker-run")
    assert again.fetched_objects == 0  # the deploy-time fetch filled the shared cache


class FolderBlock(StorageBlock):
    """A storage block for these tests: files copied from a local folder."""

    folder: str = Field(description="Folder to copy from.")
    password: SecretStr | None = Field(default=None, description="Never used; proves masking.")

    def get_directory(self, from_path: str | None = None, local_path: str | None = None) -> None:
        shutil.copytree(self.folder, local_path or ".", dirs_exist_ok=True)

    def put_directory(self, local_path: str | None = None, to_path: str | None = None) -> None:
        shutil.copytree(local_path or ".", self.folder, dirs_exist_ok=True)


def test_storage_block_source(code: Path, pool: str, tmp_path: Path, monkeypatch) -> None:
    FolderBlock(folder=str(code), password=SecretStr("blockpass-123")).save("code-folder")
    block = FolderBlock.load("code-folder")
    remote = flow.from_source(source=block, entrypoint="flows/etl.py:etl")
    assert remote.name == "etl"
    record = _record(remote.deploy(name="blk", work_pool_name=pool))
    assert record.pull_steps == [{"stowflow.deployments.steps.pull_with_block": {
        "block_document_name": "code-folder", "block_type_slug": "folder-block"}}]
    assert_no_secret("blockpass-123", repr(record.pull_steps))
    workspace = tmp_path / "run"
    workspace.mkdir()
    monkeypatch.chdir(workspace)
    out = run_steps(record.pull_steps)
    assert Path(out["directory"], "flows", "etl.py").read_text() == FLOW_SOURCE


def test_unsaved_block_cannot_be_deployed(code: Path, pool: str) -> None:
    remote = flow.from_source(source=FolderBlock(folder=str(code)), entrypoint="flows/etl.py:etl")
    with pytest.raises(DeploymentError, match="never saved"):
        remote.deploy(name="x", work_pool_name=pool)


def test_a_failing_block_pull_leaves_nothing_behind(tmp_path: Path) -> None:
    from stowflow.storage.block import BlockStorage

    block = FolderBlock(folder=str(tmp_path / "does-not-exist"))
    destination = tmp_path / "dest"
    destination.mkdir()
    (destination / "old.txt").write_text("old")
    with pytest.raises(StorageError, match="pulling code from unsaved folder-block block failed"):
        BlockStorage(block).pull(destination)
    assert (destination / "old.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]


def test_serve_delegates_to_serve_flow(monkeypatch) -> None:
    import stowflow.flows.serve

    seen = {}
    monkeypatch.setattr(stowflow.flows.serve, "serve_flow",
                        lambda f, name, **kw: seen.update(flow=f, name=name, **kw) or "served")

    @flow
    def served() -> None:
        pass

    assert served.serve("svc", limit=2) == "served"
    assert seen == {"flow": served, "name": "svc", "limit": 2}


def test_a_block_pull_whose_swap_fails_keeps_the_old_folder(tmp_path: Path,
                                                            monkeypatch) -> None:
    # The old routine renamed the destination away and then failed to rename the new
    # tree in: the destination was gone. The one swap_in restores it.
    import os

    from stowflow.storage.block import BlockStorage

    source = tmp_path / "src"
    source.mkdir()
    (source / "new.txt").write_text("new")
    destination = tmp_path / "dest"
    destination.mkdir()
    (destination / "old.txt").write_text("old")
    real_rename = os.rename

    def failing_rename(src, dst, *args, **kwargs):
        if Path(src).name.startswith(".pull-") and Path(dst) == destination:
            raise OSError(28, "No space left on device")
        return real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(OSError, match="No space left"):
        BlockStorage(FolderBlock(folder=str(source))).pull(destination)
    monkeypatch.setattr(os, "rename", real_rename)
    assert sorted(p.name for p in destination.iterdir()) == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest", "src"]


def test_repeated_git_sources_share_one_pull_per_ref_and_credentials(
        git_remote, tmp_path: Path, monkeypatch) -> None:
    from stowflow.errors import GitAuthError
    from stowflow.flows import sources
    from stowflow.storage import GitRepository

    token = "glpat-ReuseCheckToken-1"
    git_remote.accept({("git", token)})
    repo = git_remote.create_repo("org/many", {"flows/etl.py": FLOW_SOURCE})
    repo.create_branch("other", repo.rev_parse())
    assert flow.from_source(source=GitRepository(repo.url, credentials=token),
                            entrypoint="flows/etl.py:etl").name == "etl"
    pulls = len(git_remote.requests_for(repo))
    assert pulls > 0
    names = [flow.from_source(source=GitRepository(repo.url, credentials=token),
                              entrypoint="flows/etl.py:etl").name for _ in range(4)]
    assert names == ["etl"] * 4
    assert len(git_remote.requests_for(repo)) == pulls  # five flows, one pull
    # a new commit is not seen while the pull is reused …
    repo.commit({"flows/etl.py": FLOW_SOURCE.replace('name="etl"', 'name="etl2"')})
    assert flow.from_source(source=GitRepository(repo.url, credentials=token),
                            entrypoint="flows/etl.py:etl").name == "etl"
    assert len(git_remote.requests_for(repo)) == pulls
    # … another ref or other credentials are another pull (wrong ones are refused)
    assert flow.from_source(source=GitRepository(repo.url, credentials=token, branch="other"),
                            entrypoint="flows/etl.py:etl").name == "etl"
    assert len(git_remote.requests_for(repo)) > pulls
    with pytest.raises(GitAuthError):
        flow.from_source(source=GitRepository(repo.url, credentials="wrong-token"),
                         entrypoint="flows/etl.py:etl")
    # once the reuse window has passed, the source is pulled again
    monkeypatch.setattr(sources, "REUSE_SECONDS", 0.0)
    assert flow.from_source(source=GitRepository(repo.url, credentials=token),
                            entrypoint="flows/etl.py:etl").name == "etl2"


def test_repeated_object_store_sources_share_one_pull(code: Path, tmp_path: Path) -> None:
    from stowflow import transfer
    from stowflow.flows import sources
    from stowflow.transfer import open_store

    url = f"memory://sf-reuse-{tmp_path.name}/code"
    store, prefix = open_store(url, {})
    with store:
        transfer.push(code, store, prefix)
    first = flow.from_source(source=url, entrypoint="flows/etl.py:etl")
    (code / "flows" / "etl.py").write_text(FLOW_SOURCE.replace('name="etl"', 'name="etl-v2"'))
    store, prefix = open_store(url, {})
    with store:
        transfer.push(code, store, prefix)
    again = flow.from_source(source=url, entrypoint="flows/etl.py:etl")
    assert first.name == again.name == "etl"  # the first pull served the second call
    sources.forget_pulls()
    assert flow.from_source(source=url, entrypoint="flows/etl.py:etl").name == "etl-v2"
