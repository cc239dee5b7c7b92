"""The design's S3 example against a real S3 server (moto): from_source(S3Bucket.load(...))."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select
from stowflow import flow
from stowflow.db import DeploymentRecord, DeploymentVersionRecord, WorkPoolRecord, session
from stowflow.flows import load_flow_from_entrypoint
from stowflow.steps import run_steps
from stowflow.testing import assert_no_secret
from stowflow_aws import AwsCredentials, S3Bucket
from stowflow_aws.credentials import AwsClientParameters

FLOW = '''
import pandas_is_not_here_xyz  # deploy must not import it

from stowflow import flow

@flow
def etl(rows: int = 10) -> int:
    return rows
'''


def test_s3_bucket_block_source(s3_server, s3_bucket, tmp_path: Path, monkeypatch) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "etl.py").write_text(FLOW)
    (code / "helper.py").write_text("VALUE = 41\n")
    AwsCredentials(
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=SecretStr(s3_server.secret_access_key),
        region_name=s3_server.region,
        aws_client_parameters=AwsClientParameters(endpoint_url=s3_server.endpoint_url),
    ).save("moto")
    S3Bucket(bucket_name=s3_bucket, credentials=AwsCredentials.load("moto"),
             bucket_folder="proj").save("code")
    S3Bucket.load("code").put_directory(code)
    with session() as db:
        db.add(WorkPoolRecord(name="my-pool"))

    monkeypatch.chdir(tmp_path)
    remote = flow.from_source(source=S3Bucket.load("code"), entrypoint="etl.py:etl")
    assert remote.name == "etl" and remote.parameter_schema["properties"]["rows"]["default"] == 10
    deployment_id = remote.deploy(name="etl", work_pool_name="my-pool",
                                  job_variables={"env": {"EXTRA_PIP_PACKAGES": "stowflow-aws"}})
    with session() as db:
        record = db.get(DeploymentRecord, deployment_id)
        snapshots = [v.snapshot for v in db.scalars(select(DeploymentVersionRecord))]
    assert record.pull_steps == [{"stowflow.deployments.steps.pull_with_block": {
        "block_document_name": "code", "block_type_slug": "s3-bucket"}}]
    assert_no_secret(s3_server.secret_access_key, repr(record.pull_steps), repr(snapshots))

    workspace = tmp_path / "workspace"
    workspace.mkdir()
    monkeypatch.chdir(workspace)
    outputs = run_steps(record.pull_steps)
    directory = Path(outputs["directory"])
    assert directory == workspace == Path.cwd()
    assert [p.name for p in workspace.iterdir() if p.name.startswith(".stowflow")] == []
    assert (directory / "helper.py").read_text() == "VALUE = 41\n"
    (directory / "etl.py").write_text(FLOW.replace("import pandas_is_not_here_xyz", ""))
    assert load_flow_from_entrypoint(record.entrypoint, directory)(rows="3") == 3
