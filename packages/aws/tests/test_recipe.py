"""End to end on moto S3: `stowflow init --recipe s3`, `stowflow deploy` pushes, a worker pulls and runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from stowflow import transfer
from stowflow.cli.app import main
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.s3 import S3AuthServer, S3Server, s3_auth_enforced
from stowflow_aws import AwsCredentials, S3Bucket, S3ObjectStore

FLOW = '''\
from stowflow import flow


@flow(log_prints=True)
def etl(name: str = "World") -> str:
    print(f"Hello {name} from S3!")
    return name
'''


@pytest.mark.slow
def test_init_deploy_and_worker_run(s3_auth_server: S3AuthServer, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    bucket = s3_auth_server.create_bucket()
    key_id, secret = s3_auth_server.create_user({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    })
    AwsCredentials(aws_access_key_id=key_id, aws_secret_access_key=secret,
                   region_name="us-east-1",
                   aws_client_parameters={"endpoint_url": s3_auth_server.endpoint_url}
                   ).save("my-creds")

    project = tmp_path / "shop"
    (project / "flows").mkdir(parents=True)
    (project / "flows" / "etl.py").write_text(FLOW)
    monkeypatch.chdir(project)
    assert main(["init", "--recipe", "s3", "--entrypoint", "flows/etl.py:etl"]) == 0
    config = yaml.safe_load((project / "stowflow.yaml").read_text())
    config["push"][0]["stowflow_aws.deployments.steps.push_to_s3"]["bucket"] = bucket
    (project / "stowflow.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert main(["work-pool", "create", "my-pool", "--type", "process"]) == 0

    with s3_auth_enforced(s3_auth_server):  # every request below must carry the user's keys
        assert main(["deploy", "--all"]) == 0
        keys = [o["Key"] for o in _list(s3_auth_server, bucket, key_id, secret)]
        assert any(k.startswith("shop/") for k in keys)

        assert main(["deployment", "run", "etl/shop", "--param", "name=Ada"]) == 0
        monkeypatch.chdir(tmp_path)
        assert main(["worker", "start", "--pool", "my-pool", "--run-once"]) == 0

    from stowflow.runs import list_flow_runs, read_events, read_logs

    (run,) = list_flow_runs()
    assert run.state == "COMPLETED", run.state_message
    with S3ObjectStore(bucket, credentials=AwsCredentials.load("my-creds")) as store:
        (version,) = transfer.list_versions(store, "shop")
    assert run.code_version == version.id  # the run records the manifest it ran
    logs = "\n".join(line.message for line in read_logs(run.id))
    assert "Hello Ada from S3!" in logs
    phases = [event.phase for event in read_events(run.id)]
    assert "transfer" in phases, phases

    capsys.readouterr()
    assert main(["flow-run", "logs", run.id]) == 0
    shown = capsys.readouterr().out
    assert "Hello Ada from S3!" in shown
    assert_no_secret(secret, logs, shown, project / "stowflow.yaml", tmp_path)


def _run_once(deployment: str) -> tuple[object, str]:
    """Run ``deployment`` with name=Ada through a run-once worker; return (run, its logs)."""
    from stowflow.runs import find_deployment, list_flow_runs, read_logs

    assert main(["deployment", "run", deployment, "--param", "name=Ada"]) == 0
    assert main(["worker", "start", "--pool", "my-pool", "--run-once"]) == 0
    (run,) = list_flow_runs(deployment_id=find_deployment(deployment).id)
    return run, "\n".join(line.message for line in read_logs(run.id))


def _code(root: Path) -> Path:
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text(FLOW)
    return root


def test_from_source_with_an_s3_url(s3_server: S3Server, s3_bucket: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Ambient credentials (environment) on both sides; the worker pulls through this store."""
    from stowflow import flow

    for var, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_ENDPOINT_URL": s3_server.endpoint_url}.items():
        monkeypatch.setenv(var, value)
    with S3ObjectStore(s3_bucket) as store:
        version = transfer.push(_code(tmp_path / "code"), store, "etl").version
    monkeypatch.chdir(tmp_path)
    assert main(["work-pool", "create", "my-pool", "--type", "process"]) == 0
    flow.from_source(source=f"s3://{s3_bucket}/etl", entrypoint="flows/etl.py:etl").deploy(
        name="from-url", work_pool_name="my-pool")
    run, logs = _run_once("etl/from-url")
    assert run.state == "COMPLETED", logs  # type: ignore[attr-defined]
    assert "Hello Ada from S3!" in logs
    assert run.code_version == version  # type: ignore[attr-defined]


def test_from_source_with_a_bucket_block(credentials: AwsCredentials, s3_bucket: str,
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A saved S3Bucket with saved credentials: the worker loads both by name."""
    from stowflow import flow

    credentials.save("my-creds")
    block = S3Bucket(bucket_name=s3_bucket, credentials=AwsCredentials.load("my-creds"),
                     bucket_folder="etl")
    block.put_directory(_code(tmp_path / "code"))
    block.save("code")
    monkeypatch.chdir(tmp_path)
    assert main(["work-pool", "create", "my-pool", "--type", "process"]) == 0
    flow.from_source(source=S3Bucket.load("code"), entrypoint="flows/etl.py:etl").deploy(
        name="from-block", work_pool_name="my-pool")
    run, logs = _run_once("etl/from-block")
    assert run.state == "COMPLETED", logs  # type: ignore[attr-defined]
    assert "Hello Ada from S3!" in logs


def _list(server: S3AuthServer, bucket: str, key_id: str, secret: str) -> list[dict[str, str]]:
    import boto3

    client = boto3.client("s3", endpoint_url=server.endpoint_url, aws_access_key_id=key_id,
                          aws_secret_access_key=secret, region_name=server.region)
    return client.list_objects_v2(Bucket=bucket).get("Contents", [])
