"""Each shape of the user's guide, end to end: a prefect.yaml is migrated with the CLI,
deployed with ``stowflow deploy`` and run by a real worker against the real servers
(git smart-HTTP, moto S3, fake-gcs-server, Azurite, a local folder, the Docker daemon)."""

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
from stowflow.workers.types import worker_type
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
                           pool: str, pool_type: str = "process") -> list[str]:
    """Migrate, deploy and run the project's one deployment; return its log lines.

    The worker runs the pool's type's launcher, as ``stowflow worker start`` does.
    """
    monkeypatch.chdir(root)
    assert main(["migrate", "prefect", "--write"]) == 0, capsys.readouterr()
    create_pool(pool, type=pool_type)
    assert main(["deploy"]) == 0, capsys.readouterr()
    output = capsys.readouterr()
    name = yaml.safe_load((root / "stowflow.yaml").read_text())["deployments"][0]["name"]
    deployment = find_deployment(name)
    run = create_flow_run(deployment)
    Worker(pool, poll_interval=0.1, launcher=worker_type(pool_type).make_launcher(pool)).start(
        run_once=True, install_signal_handlers=False)
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


@pytest.fixture
def docker_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_daemon: Any,
                   python_base_image: str) -> Callable[..., Path]:
    """Make a project with the guide's ``my_file.py:my_flow`` and one Docker prefect.yaml,
    with the test daemon and its offline base image as the ones stowflow uses."""
    monkeypatch.setenv("DOCKER_HOST", docker_daemon.host)
    monkeypatch.setenv("STOWFLOW_DOCKER_BASE_IMAGE", python_base_image)
    monkeypatch.setenv("STOWFLOW_DOCKER_BUILD_NETWORK", "host")  # the test daemon has no bridge

    def make(shape: str, **values: str) -> Path:
        root = tmp_path / "p"
        root.mkdir()
        flow_text = FLOW.format(shape=shape).replace("def etl", "def my_flow")
        (root / "my_file.py").write_text(flow_text)
        text = (FILES / f"{shape}.yaml").read_text()
        for key, value in values.items():
            text = text.replace(f"__{key.upper()}__", value)
        (root / "prefect.yaml").write_text(text)
        return root

    return make


@pytest.mark.slow
def test_docker_image_built_by_the_migrated_build_step(
        monkeypatch, capsys, docker_daemon, docker_project) -> None:
    """The guide's Docker shape: the build step bakes the code into an image, the pull step
    enters the folder the image holds it in, and a docker pool runs it in a container."""
    root = docker_project("docker")
    logs = migrate_deploy_and_run(root, monkeypatch, capsys, "my_pool", pool_type="docker")
    assert "migrated code ran: docker" in logs
    migrated = yaml.safe_load((root / "stowflow.yaml").read_text())
    assert migrated["pull"] == [{"stowflow.deployments.steps.set_working_directory": {
        "directory": "{{ build-image.code_directory }}"}}]
    image = find_deployment("my-docker-deployment").job_variables["image"]
    assert image == "my_username/default:latest"  # the build step's output, not the template
    assert docker_daemon.cli("image", "inspect", image).returncode == 0


@pytest.mark.slow
def test_docker_image_pushed_with_a_migrated_registry_block(
        monkeypatch, capsys, docker_daemon, docker_registry, docker_project) -> None:
    """With a push_docker_image step: the image goes to the registry with the saved block's
    credentials, the deployment runs the image pinned by digest, the password shows nowhere."""
    from stowflow_docker import DockerRegistryCredentials

    DockerRegistryCredentials(username=docker_registry.username,
                              password=docker_registry.password,
                              registry_url=docker_registry.address).save("my-registry")
    root = docker_project("docker_push", registry=docker_registry.address)
    logs = migrate_deploy_and_run(root, monkeypatch, capsys, "my_pool", pool_type="docker")
    assert "migrated code ran: docker_push" in logs
    migrated = yaml.safe_load((root / "stowflow.yaml").read_text())
    assert migrated["push"][0]["stowflow_docker.deployments.steps.push_docker_image"][
        "credentials"] == "{{ stowflow.blocks.docker-registry-credentials.my-registry }}"
    image = find_deployment("my-pushed-deployment").job_variables["image"]
    assert image.startswith(f"{docker_registry.address}/my_username/default@sha256:")
    assert_no_secret(docker_registry.password, (root / "stowflow.yaml").read_text(), logs,
                     docker_registry.log_text(), repr(find_deployment("my-pushed-deployment")))
