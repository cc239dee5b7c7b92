"""The push and pull steps: round trips through the core engine against Azurite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from stowflow.errors import BlockError, StorageNotFoundError
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.azurite import AzuriteServer
from stowflow_azure import AzureBlobCredentials
from stowflow_azure.deployments.steps import (
    pull_from_azure_blob_storage,
    push_to_azure_blob_storage,
)


def _project(root: Path) -> Path:
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text("def etl():\n    return 'azure'\n")
    (root / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    (root / "notes.log").write_text("left behind\n")
    (root / ".stowflowignore").write_text("*.log\n")
    return root


def test_push_then_pull_round_trip(azurite_server: AzuriteServer, container: str,
                                   credentials: AzureBlobCredentials, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path / "project")
    monkeypatch.chdir(project)
    pushed = push_to_azure_blob_storage(container, "team/etl", credentials)
    assert pushed["container"] == container and pushed["folder"] == "team/etl"
    assert pushed["version"]

    worker = tmp_path / "worker"
    worker.mkdir()
    monkeypatch.chdir(worker)
    pulled = pull_from_azure_blob_storage(container, "team/etl", credentials.revealed_data())
    assert pulled == {"container": container, "folder": "team/etl",
                      "directory": str(worker / "etl"), "version": pushed["version"]}
    directory = Path(pulled["directory"])
    assert (directory / "flows" / "etl.py").read_text() == "def etl():\n    return 'azure'\n"
    assert (directory / "big.bin").read_bytes() == (project / "big.bin").read_bytes()
    assert not (directory / "notes.log").exists()


def test_credentials_from_the_environment(azurite_server: AzuriteServer, container: str,
                                          tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_server.connection_string)
    monkeypatch.chdir(_project(tmp_path / "project"))
    version = push_to_azure_blob_storage(container, "env", None, ignore_file=None)["version"]
    monkeypatch.chdir(tmp_path)
    pulled = pull_from_azure_blob_storage(container, "env", None)
    assert pulled["version"] == version
    assert (Path(pulled["directory"]) / "notes.log").exists()  # no ignore file this time


def test_a_new_push_is_a_new_version(container: str, credentials: AzureBlobCredentials,
                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path / "project")
    monkeypatch.chdir(project)
    first = push_to_azure_blob_storage(container, "v", credentials)["version"]
    assert push_to_azure_blob_storage(container, "v", credentials)["version"] == first
    (project / "flows" / "etl.py").write_text("def etl():\n    return 2\n")
    second = push_to_azure_blob_storage(container, "v", credentials)["version"]
    assert second != first
    monkeypatch.chdir(tmp_path)
    pulled = pull_from_azure_blob_storage(container, "v", credentials)
    assert pulled["version"] == second
    assert "return 2" in (Path(pulled["directory"]) / "flows" / "etl.py").read_text()


def test_bad_inputs(azurite_server: AzuriteServer, credentials: AzureBlobCredentials,
                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StorageNotFoundError, match="container 'absent' does not exist"):
        pull_from_azure_blob_storage("absent", "x", credentials)
    with pytest.raises(BlockError, match="exactly one of connection_string or account_url"):
        pull_from_azure_blob_storage("c", "x", {"client_id": "only-this"})
    with pytest.raises(BlockError, match="got int"):
        pull_from_azure_blob_storage("c", "x", 42)  # type: ignore[arg-type]


def test_credentials_from_a_saved_block_through_templating(
        azurite_server: AzuriteServer, container: str, credentials: AzureBlobCredentials,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    from stowflow.steps import run_steps

    credentials.save("azurite")
    placeholder = "{{ stowflow.blocks.azure-blob-credentials.azurite }}"
    push = [{"stowflow_azure.deployments.steps.push_to_azure_blob_storage": {
        "id": "push_code", "requires": "stowflow-azure>=0.1",
        "container": container, "folder": "templated", "credentials": placeholder}}]
    pull = [{"stowflow_azure.deployments.steps.pull_from_azure_blob_storage": {
        "id": "pull_code", "requires": "stowflow-azure>=0.1",
        "container": "{{ push_code.container }}", "folder": "{{ push_code.folder }}",
        "credentials": placeholder}}]
    monkeypatch.chdir(_project(tmp_path / "project"))
    pushed = run_steps(push)
    monkeypatch.chdir(tmp_path)
    pulled = run_steps(pull, upstream=pushed)
    assert pulled["pull_code"]["version"] == pushed["push_code"]["version"]
    assert pulled["directory"] == str(tmp_path / "templated")
    assert (tmp_path / "templated" / "flows" / "etl.py").exists()
    captured = capsys.readouterr()
    assert_no_secret(azurite_server.account_key, caplog.text, captured.out, captured.err,
                     repr(pushed), repr(pulled))


def test_pull_with_block_step(container: str, credentials: AzureBlobCredentials,
                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stowflow.steps import run_steps
    from stowflow_azure import AzureBlobStorage

    credentials.save("azurite")
    block = AzureBlobStorage(container=container, credentials=AzureBlobCredentials.load("azurite"),
                             folder="by-block")
    pushed = block.put_directory(_project(tmp_path / "project"))
    block.save("code")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    monkeypatch.chdir(workspace)
    out = run_steps([{"stowflow.deployments.steps.pull_with_block": {
        "block_document_name": "code", "block_type_slug": "azure-blob-storage"}}])
    assert out["directory"] == str(workspace)
    assert out["version"] == pushed.version  # the run records the code version it pulled
    assert Path.cwd() == workspace
    assert (Path.cwd() / "flows" / "etl.py").read_text() == "def etl():\n    return 'azure'\n"
