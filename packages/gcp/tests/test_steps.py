"""push_to_gcs / pull_from_gcs: round trips on fake-gcs-server, credentials through templating."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import stowflow_gcp.storage as gcp_storage
from stowflow.errors import StorageAuthError, StorageNotFoundError
from stowflow.steps import run_steps
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.gcs import GcsServer
from stowflow_gcp import GcpCredentials, GcsObjectStore
from stowflow_gcp.deployments.steps import pull_from_gcs, push_to_gcs


def make_project(root: Path) -> Path:
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text("def etl():\n    return 'hi'\n")
    (root / "README.md").write_text("# code\n")
    (root / "debug.log").write_text("noise\n")
    (root / ".stowflowignore").write_text("*.log\n")
    return root


def test_push_then_pull_round_trip(gcs_bucket: str, emulator_credentials: GcpCredentials,
                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(make_project(tmp_path / "src"))
    pushed = push_to_gcs(gcs_bucket, "team/shop", credentials=emulator_credentials)
    assert pushed["bucket"] == gcs_bucket and pushed["folder"] == "team/shop"
    assert pushed["version"]

    worker = tmp_path / "worker"
    worker.mkdir()
    monkeypatch.chdir(worker)
    pulled = pull_from_gcs(gcs_bucket, "team/shop", credentials=emulator_credentials)
    assert pulled == {"bucket": gcs_bucket, "folder": "team/shop",
                      "directory": str(worker / "shop"), "version": pushed["version"]}
    code = Path(pulled["directory"])
    assert (code / "flows" / "etl.py").read_text() == "def etl():\n    return 'hi'\n"
    assert not (code / "debug.log").exists(), "the ignore file was honoured"
    assert sorted(p.relative_to(code).as_posix() for p in code.rglob("*") if p.is_file()) == [
        ".stowflowignore", "README.md", "flows/etl.py"]


def test_credentials_come_from_a_saved_block_through_templating(
        gcs_server: GcsServer, gcs_bucket: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    GcpCredentials(api_endpoint=gcs_server.endpoint, project=gcs_server.project).save("emu")
    creds = "{{ stowflow.blocks.gcp-credentials.emu }}"
    monkeypatch.chdir(make_project(tmp_path / "src"))
    pushed = run_steps([{"stowflow_gcp.deployments.steps.push_to_gcs": {
        "id": "push_code", "requires": "stowflow-gcp>=0.1", "bucket": gcs_bucket,
        "folder": "proj", "credentials": creds}}])

    worker = tmp_path / "worker"
    worker.mkdir()
    monkeypatch.chdir(worker)
    outputs = run_steps([{"stowflow_gcp.deployments.steps.pull_from_gcs": {
        "id": "pull_code", "requires": "stowflow-gcp>=0.1",
        "bucket": "{{ push_code.bucket }}", "folder": "{{ push_code.folder }}",
        "credentials": creds}}], upstream=pushed)
    assert outputs["directory"] == str(worker / "proj")
    assert outputs["pull_code"]["version"] == pushed["push_code"]["version"]
    assert (worker / "proj" / "flows" / "etl.py").is_file()


def test_a_refused_key_through_templating_fails_without_leaking_it(
        gcs_server: GcsServer, gcs_bucket: str, service_account_info: dict[str, Any],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    GcpCredentials(service_account_info=service_account_info,
                   api_endpoint=gcs_server.endpoint).save("deployer")
    monkeypatch.chdir(make_project(tmp_path / "src"))
    with pytest.raises(StorageAuthError) as refused:
        run_steps([{"stowflow_gcp.deployments.steps.push_to_gcs": {
            "id": "push_code", "bucket": gcs_bucket, "folder": "proj",
            "credentials": "{{ stowflow.blocks.gcp-credentials.deployer }}"}}])
    text = str(refused.value)
    assert text.startswith("step 'push_code' failed: gs://") and "\n" not in text
    assert_no_secret(service_account_info["private_key"], text, caplog.text)
    assert gcs_server.object_names(gcs_bucket) == []


def test_credentials_as_a_block_or_none_and_project_is_honoured(
        gcs_server: GcsServer, gcs_bucket: str, emulator_credentials: GcpCredentials,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    projects: list[str | None] = []

    class RecordingStore(GcsObjectStore):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            projects.append(self.project)

    # The steps import their store class when they run (start-up stays free of the SDK).
    monkeypatch.setattr(gcp_storage, "GcsObjectStore", RecordingStore)
    monkeypatch.chdir(make_project(tmp_path / "src"))
    push_to_gcs(gcs_bucket, "p", project="step-project", credentials=emulator_credentials)
    # No credentials at all: the emulator variable and anonymous access, as on a dev box.
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint)
    monkeypatch.chdir(tmp_path)
    pulled = pull_from_gcs(gcs_bucket, "p")
    assert Path(pulled["directory"], "flows", "etl.py").is_file()
    assert projects == ["step-project", None]


def test_pull_of_a_folder_never_pushed_is_not_found(
        gcs_bucket: str, emulator_credentials: GcpCredentials, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StorageNotFoundError, match=gcs_bucket):
        pull_from_gcs(gcs_bucket, "nothing-here", credentials=emulator_credentials)
    assert list(tmp_path.iterdir()) == []
