"""Each shape of the user's guide, end to end: a prefect.yaml is migrated with the CLI,
deployed with ``stowflow deploy`` and run by a real worker against the real servers
(git smart-HTTP, moto S3, fake-gcs-server, Azurite, a local folder)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from stowflow.blocks import Secret
from stowflow.cli.app import main
from stowflow.runs import create_flow_run, find_deployment, get_flow_run, read_logs
from stowflow.testing import assert_no_secret
from stowflow.workers.pools import create_pool
from stowflow.workers.worker import Worker

FILES = Path(__file__).parent / "prefect_files"
TOKEN = "migr8-t0ken-5b1f0c7e"
FLOW = '''
from stowflow import flow


@flow(log_prints=True)
def etl():
    print("migrated code ran: {shape}")
'''


def write_project(root: Path, shape: str, **values: str) -> Path:
    """A project folder holding the flow and the shape's prefect.yaml, filled with ``values``."""
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text(FLOW.format(shape=shape))
    text = (FILES / f"{shape}.yaml").read_text()
    for key, value in values.items():
        text = text.replace(f"__{key.upper()}__", value)
    (root / "prefect.yaml").write_text(text)
    return root


def migrate_deploy_and_run(root: Path, monkeypatch: pytest.MonkeyPatch, capsys,
                           pool: str) -> list[str]:
    """Migrate, deploy and run the project's one deployment; return its log lines."""
    monkeypatch.chdir(root)
    assert main(["migrate", "prefect", "--write"]) == 0, capsys.readouterr()
    create_pool(pool)
    assert main(["deploy"]) == 0, capsys.readouterr()
    output = capsys.readouterr()
    name = yaml.safe_load((root / "stowflow.yaml").read_text())["deployments"][0]["name"]
    deployment = find_deployment(name)
    run = create_flow_run(deployment)
    Worker(pool, poll_interval=0.1).start(run_once=True, install_signal_handlers=False)
    logs = [line.message for line in read_logs(run.id)]
    finished = get_flow_run(run.id)
    assert finished.state == "COMPLETED", (finished.state_message, logs)
    assert_no_secret(TOKEN, output.out, output.err, logs, finished.state_message or "")
    return logs


@pytest.fixture
def private_repo(git_remote) -> Callable[..., Any]:
    """Make a repository holding the flow that only ``(username, TOKEN)`` may read."""

    def make(username: str) -> Any:
        git_remote.accept({(username, TOKEN)})
        return git_remote.create_repo(files={"flows/etl.py": FLOW.format(shape="git")})

    return make


def test_github(tmp_path, monkeypatch, capsys, git_remote, private_repo) -> None:
    from stowflow_github import GitHubCredentials

    repo = private_repo("x-access-token")
    monkeypatch.setenv("STOWFLOW_GITHUB_HOSTS", "127.0.0.1")  # GitHub Enterprise Server
    GitHubCredentials(token=TOKEN).save("my-github-credentials-block")
    root = write_project(tmp_path / "p", "github", repository=repo.url)
    assert "migrated code ran: git" in migrate_deploy_and_run(root, monkeypatch, capsys, "my_pool")
    assert git_remote.requests_for(repo)[-1].user == "x-access-token"


def test_gitlab_with_a_secret_block(tmp_path, monkeypatch, capsys, git_remote,
                                    private_repo) -> None:
    url = private_repo("oauth2").url
    monkeypatch.setenv("STOWFLOW_GITLAB_HOSTS", "127.0.0.1")  # self-managed GitLab
    Secret(value=TOKEN).save("my-block-name")
    root = write_project(tmp_path / "p", "gitlab", repository=url)
    assert "migrated code ran: git" in migrate_deploy_and_run(root, monkeypatch, capsys, "my_pool")


def test_bitbucket_server(tmp_path, monkeypatch, capsys, git_remote, private_repo) -> None:
    from stowflow_bitbucket import BitBucketCredentials

    url = private_repo("bob").url
    BitBucketCredentials(username="bob", token=TOKEN, url=git_remote.base_url).save(
        "my-bitbucket-credentials-block")
    root = write_project(tmp_path / "p", "bitbucket", repository=url)
    assert "migrated code ran: git" in migrate_deploy_and_run(root, monkeypatch, capsys, "my_pool")


def test_s3(tmp_path, monkeypatch, capsys, s3_server, s3_bucket) -> None:
    from stowflow_aws import AwsCredentials

    AwsCredentials(aws_access_key_id=s3_server.access_key_id,
                   aws_secret_access_key=s3_server.secret_access_key,
                   region_name=s3_server.region,
                   aws_client_parameters={"endpoint_url": s3_server.endpoint_url},
                   ).save("my-credentials-block")
    root = write_project(tmp_path / "p", "s3", bucket=s3_bucket)
    logs = migrate_deploy_and_run(root, monkeypatch, capsys, "my-work-pool")
    assert "migrated code ran: s3" in logs


def test_gcs(tmp_path, monkeypatch, capsys, gcs_server, gcs_bucket) -> None:
    from stowflow_gcp import GcpCredentials

    GcpCredentials(api_endpoint=gcs_server.endpoint, project=gcs_server.project).save(
        "my-credentials-block")
    root = write_project(tmp_path / "p", "gcs", bucket=gcs_bucket)
    logs = migrate_deploy_and_run(root, monkeypatch, capsys, "my-work-pool")
    assert "migrated code ran: gcs" in logs


def test_azure(tmp_path, monkeypatch, capsys, azurite_server) -> None:
    from stowflow_azure import AzureBlobCredentials

    AzureBlobCredentials(connection_string=SecretStr(azurite_server.connection_string)).save(
        "my-credentials-block")
    root = write_project(tmp_path / "p", "azure", container=azurite_server.create_container())
    logs = migrate_deploy_and_run(root, monkeypatch, capsys, "my-work-pool")
    assert "migrated code ran: azure" in logs


def test_local_folder(tmp_path, monkeypatch, capsys) -> None:
    root = tmp_path / "p"
    write_project(root, "local", directory=str(root))
    logs = migrate_deploy_and_run(root, monkeypatch, capsys, "my-process-pool")
    assert "migrated code ran: local" in logs
