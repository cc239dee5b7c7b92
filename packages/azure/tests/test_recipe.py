"""End to end: `stowflow init --recipe azure`, `stowflow deploy` pushes, a worker run pulls and runs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from stowflow import transfer
from stowflow.cli.app import main
from stowflow.runs import get_flow_run, read_logs
from stowflow.runs.api import find_deployment
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.azurite import AzuriteServer
from stowflow_azure import AzureBlobCredentials, AzureBlobObjectStore, AzureBlobStorage

FLOW = '''\
from stowflow import flow


@flow(log_prints=True)
def etl(name: str = "World"):
    print(f"Hello {name} from Azure!")
    return name
'''


def test_deploy_pushes_and_a_worker_run_pulls_and_runs(
        azurite_server: AzuriteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    container = azurite_server.create_container()
    credentials = AzureBlobCredentials(
        connection_string=SecretStr(azurite_server.connection_string))
    credentials.save("my-creds")
    project = tmp_path / "shop"
    (project / "flows").mkdir(parents=True)
    (project / "flows" / "etl.py").write_text(FLOW)
    monkeypatch.chdir(project)

    assert main(["init", "--recipe", "azure", "--entrypoint", "flows/etl.py:etl"]) == 0
    config = (project / "stowflow.yaml").read_text().replace("my-container", container)
    (project / "stowflow.yaml").write_text(config)
    assert main(["work-pool", "create", "my-pool", "--type", "process"]) == 0
    assert main(["deploy"]) == 0, capsys.readouterr().err

    # the push step put a version into the container, under the project's folder
    with AzureBlobObjectStore(container, credentials) as store:
        (pushed,) = transfer.list_versions(store, "shop")
    # the recorded pull step keeps its placeholder: no secret was stored resolved
    stored = json.dumps(find_deployment("etl/shop").pull_steps)
    assert "{{ stowflow.blocks.azure-blob-credentials.my-creds }}" in stored
    assert_no_secret(azurite_server.account_key, stored)

    capsys.readouterr()
    assert main(["deployment", "run", "etl/shop", "--param", "name=Ada"]) == 0
    out = capsys.readouterr().out
    assert main(["worker", "start", "--pool", "my-pool", "--run-once"]) == 0, \
        capsys.readouterr().err
    run_id = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", out).group(0)  # type: ignore[union-attr]
    run = get_flow_run(run_id)
    logs = "\n".join(entry.message for entry in read_logs(run_id))
    assert run.state == "COMPLETED", logs
    assert "Hello Ada from Azure!" in logs
    assert run.code_version == pushed.id  # the run records the version it pulled
    assert_no_secret(azurite_server.account_key, logs, capsys.readouterr().out)


def _run_once(deployment: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    """Create a run of ``deployment``, let a worker run it once; return (run, its log text)."""
    from stowflow.runs import create_flow_run

    run_id = create_flow_run(deployment, {"name": "Grace"}).id
    assert main(["worker", "start", "--pool", "my-pool", "--run-once"]) == 0, \
        capsys.readouterr().err
    logs = "\n".join(entry.message for entry in read_logs(run_id))
    return get_flow_run(run_id), logs


def _code(root: Path) -> Path:
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text(FLOW)
    return root


def test_from_source_with_an_az_url(azurite_server: AzuriteServer, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from stowflow import flow
    from stowflow.storage.resolve import resolve

    container = azurite_server.create_container()
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_server.connection_string)
    storage = resolve(f"az://{container}/etl")
    version = storage.push(_code(tmp_path / "code")).version  # type: ignore[attr-defined]
    monkeypatch.chdir(tmp_path)
    assert main(["work-pool", "create", "my-pool", "--type", "process"]) == 0
    flow.from_source(source=f"az://{container}/etl", entrypoint="flows/etl.py:etl").deploy(
        name="from-url", work_pool_name="my-pool")
    run, logs = _run_once("etl/from-url", capsys)
    assert run.state == "COMPLETED", logs
    assert "Hello Grace from Azure!" in logs
    assert run.code_version == version


def test_from_source_with_a_storage_block(azurite_server: AzuriteServer, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from stowflow import flow

    container = azurite_server.create_container()
    credentials = AzureBlobCredentials(
        connection_string=SecretStr(azurite_server.connection_string))
    credentials.save("my-creds")
    block = AzureBlobStorage(container=container, credentials=credentials, folder="etl")
    block.put_directory(_code(tmp_path / "code"))
    block.save("code")
    monkeypatch.chdir(tmp_path)
    assert main(["work-pool", "create", "my-pool", "--type", "process"]) == 0
    flow.from_source(source=AzureBlobStorage.load("code"),
                     entrypoint="flows/etl.py:etl").deploy(name="from-block",
                                                           work_pool_name="my-pool")
    run, logs = _run_once("etl/from-block", capsys)
    assert run.state == "COMPLETED", logs
    assert "Hello Grace from Azure!" in logs
