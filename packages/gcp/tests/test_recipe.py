"""End to end: `stowflow init --recipe gcs`, `stowflow deploy` pushes, a worker run pulls and runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from stowflow import transfer
from stowflow.cli.app import main
from stowflow.runs import get_flow_run, read_logs
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.gcs import GcsServer
from stowflow_gcp import GcpCredentials, GcsObjectStore

FLOW = '''\
from stowflow import flow


@flow(log_prints=True)
def etl(name: str = "World"):
    print(f"Hello {name} from GCS!")
    return name
'''


def test_deploy_pushes_and_a_worker_run_pulls_and_runs(
        gcs_server: GcsServer, gcs_bucket: str, service_account_info: dict[str, Any],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The emulator checks no credentials, so the block is anonymous; it still carries a key,
    # which travels through templating into the worker's pull step and must leak nowhere.
    credentials = GcpCredentials(api_endpoint=gcs_server.endpoint, anonymous=True,
                                 service_account_info=service_account_info)
    credentials.save("my-creds")
    project = tmp_path / "shop"
    (project / "flows").mkdir(parents=True)
    (project / "flows" / "etl.py").write_text(FLOW)
    monkeypatch.chdir(project)

    assert main(["init", "--recipe", "gcs", "--entrypoint", "flows/etl.py:etl"]) == 0
    config = (project / "stowflow.yaml").read_text().replace("my-bucket", gcs_bucket)
    (project / "stowflow.yaml").write_text(config)
    assert main(["work-pool", "create", "my-pool", "--type", "process"]) == 0
    assert main(["deploy"]) == 0, capsys.readouterr().err

    # the push step put one version into the bucket, under the project's folder
    with GcsObjectStore(gcs_bucket, credentials) as store:
        (pushed,) = transfer.list_versions(store, "shop")
    assert "{{ stowflow.blocks.gcp-credentials.my-creds }}" in yaml.safe_dump(yaml.safe_load(config))

    capsys.readouterr()
    assert main(["deployment", "run", "etl/shop", "--param", "name=Ada"]) == 0
    out = capsys.readouterr().out
    assert main(["worker", "start", "--pool", "my-pool", "--run-once"]) == 0, \
        capsys.readouterr().err
    found = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", out)
    assert found, out
    run = get_flow_run(found.group(0))
    logs = "\n".join(entry.message for entry in read_logs(found.group(0)))
    assert run.state == "COMPLETED", logs
    assert "Hello Ada from GCS!" in logs
    assert run.code_version == pushed.id  # the run records the version it pulled
    for secret in (service_account_info["private_key"], service_account_info["private_key_id"]):
        assert_no_secret(secret, logs, capsys.readouterr().out, repr(run))
