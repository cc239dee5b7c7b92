"""push_to_s3 / pull_from_s3 round trips, and credentials from a saved block via templating."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import yaml
from stowflow.errors import StorageAuthError, StorageNotFoundError
from stowflow.steps import run_steps
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.s3 import S3AuthServer, S3Server, s3_auth_enforced
from stowflow_aws import AwsCredentials
from stowflow_aws.deployments.steps import pull_from_s3, push_to_s3

PROJECT = {
    "flows/etl.py": b"def etl():\n    return 'hello'\n",
    "flows/lib/util.py": b"X = 1\n",
    "README.md": b"# demo\n",
    ".env": b"TOKEN=do-not-ship\n",
}


def make_project(root: Path, files: dict[str, bytes] = PROJECT) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / ".stowflowignore").write_text(".env\n")
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("form", ["block", "dict"])
def test_push_then_pull_round_trip(form: str, credentials: AwsCredentials, s3_bucket: str,
                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given = credentials if form == "block" else credentials.revealed_data()
    source = make_project(tmp_path / "src")
    monkeypatch.chdir(source)
    pushed = push_to_s3(s3_bucket, "teams/etl", credentials=given)
    assert pushed["bucket"] == s3_bucket and pushed["folder"] == "teams/etl"
    assert pushed["version"]

    worker = tmp_path / "worker"
    worker.mkdir()
    monkeypatch.chdir(worker)
    pulled = pull_from_s3(s3_bucket, "teams/etl", credentials=given)
    assert pulled == {"bucket": s3_bucket, "folder": "teams/etl",
                      "directory": str(worker / "etl"), "version": pushed["version"]}
    expected = {k: v for k, v in PROJECT.items() if k != ".env"} | {
        ".stowflowignore": b".env\n"}
    assert tree(worker / "etl") == expected


def test_unchanged_push_keeps_the_version(credentials: AwsCredentials, s3_bucket: str,
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(make_project(tmp_path))
    first = push_to_s3(s3_bucket, "f", credentials=credentials)
    assert push_to_s3(s3_bucket, "f", credentials=credentials)["version"] == first["version"]
    (tmp_path / "flows/etl.py").write_bytes(b"def etl():\n    return 'v2'\n")
    assert push_to_s3(s3_bucket, "f", credentials=credentials)["version"] != first["version"]


def test_no_credentials_uses_the_ambient_chain(s3_server: S3Server, s3_bucket: str,
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for var, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_ENDPOINT_URL": s3_server.endpoint_url}.items():
        monkeypatch.setenv(var, value)
    monkeypatch.chdir(make_project(tmp_path / "src"))
    version = push_to_s3(s3_bucket, "ambient")["version"]
    monkeypatch.chdir(tmp_path)
    assert pull_from_s3(s3_bucket, "ambient")["version"] == version


def test_endpoint_on_the_step_wins(s3_server: S3Server, s3_bucket: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing",
             "region_name": "us-east-1"}  # no endpoint: it would go to AWS itself
    monkeypatch.chdir(make_project(tmp_path / "src"))
    push_to_s3(s3_bucket, "ep", credentials=creds,
               client_parameters={"endpoint_url": s3_server.endpoint_url})
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert any(k.startswith("ep/") for k in keys)


def test_pull_of_a_missing_folder_is_not_found(credentials: AwsCredentials, s3_bucket: str,
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StorageNotFoundError):
        pull_from_s3(s3_bucket, "never-pushed", credentials=credentials)
    assert not (tmp_path / "never-pushed").exists()


def test_recipe_steps_run_with_credentials_from_a_saved_block(
    s3_auth_server: S3AuthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The s3 recipe's own push and pull steps, templated, against an IAM-enforcing server."""
    from stowflow_aws.plugin import RECIPE

    bucket = s3_auth_server.create_bucket()
    key_id, secret = s3_auth_server.create_user({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    })
    AwsCredentials(aws_access_key_id=key_id, aws_secret_access_key=secret,
                   region_name="us-east-1",
                   aws_client_parameters={"endpoint_url": s3_auth_server.endpoint_url}
                   ).save("my-creds")
    document = yaml.safe_load(RECIPE.format(project_name="etl", entrypoint="flows/etl.py:etl"))
    push_step, pull_step = document["push"][0], document["pull"][0]
    push_step["stowflow_aws.deployments.steps.push_to_s3"]["bucket"] = bucket

    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(make_project(tmp_path / "src"))
    with s3_auth_enforced(s3_auth_server):
        pushed = run_steps([push_step])
        worker = tmp_path / "worker"
        worker.mkdir()
        monkeypatch.chdir(worker)
        pulled = run_steps([pull_step], upstream=pushed)
    assert pulled["pull_code"]["version"] == pushed["push_code"]["version"]
    assert pulled["directory"] == str(worker / "etl")
    assert (worker / "etl" / "flows" / "etl.py").read_bytes() == PROJECT["flows/etl.py"]
    assert_no_secret(secret, caplog.text, repr(pushed), repr(pulled), worker)


def test_wrong_saved_credentials_fail_without_the_secret(
    s3_auth_server: S3AuthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket = s3_auth_server.create_bucket()
    secret = "wrong-secret-" + os.urandom(8).hex()
    AwsCredentials(aws_access_key_id="AKIA" + "Q" * 16, aws_secret_access_key=secret,
                   region_name="us-east-1",
                   aws_client_parameters={"endpoint_url": s3_auth_server.endpoint_url}
                   ).save("bad")
    step = {"stowflow_aws.deployments.steps.push_to_s3": {
        "bucket": bucket, "folder": "x",
        "credentials": "{{ stowflow.blocks.aws-credentials.bad }}"}}
    monkeypatch.chdir(make_project(tmp_path))
    with s3_auth_enforced(s3_auth_server), pytest.raises(StorageAuthError) as caught:
        run_steps([step])
    text = str(caught.value)
    assert "InvalidAccessKeyId" in text and "\n" not in text
    assert_no_secret(secret, text, repr(caught.value))
