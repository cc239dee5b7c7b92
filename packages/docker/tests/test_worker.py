"""Docker work pools end to end: real daemon, real containers, code baked in or pulled from git."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from stowflow.blocks import Secret
from stowflow.cli.app import main
from stowflow.deployments.records import upsert_deployment
from stowflow.errors import DeploymentError, ImageNotFoundError
from stowflow.runs import create_flow_run, get_flow_run, read_events, read_logs
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.docker import DockerDaemon
from stowflow.workers.pools import create_pool
from stowflow.workers.types import worker_type
from stowflow.workers.worker import Worker
from stowflow_docker import DockerImage
from stowflow_docker.worker import LABEL_RUN

pytestmark = pytest.mark.slow

TOKEN = "ghp-docker-token-5f0e2b7c91"
GIT_FLOW = '''
from stowflow import flow


@flow(log_prints=True)
def etl():
    print("pulled from git, version two")
'''


def load_flow(path: Path, name: str) -> Any:
    """Import a flow object from a project file, as a user's script does."""
    spec = importlib.util.spec_from_file_location(f"project_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def run_worker(pool: str) -> None:
    """Run one claim of a docker pool's worker until its runs are done."""
    Worker(pool, poll_interval=0.2, heartbeat_interval=0.5, tick=0.05,
           launcher=worker_type("docker").make_launcher(pool)).start(
        run_once=True, install_signal_handlers=False)


def container_of(daemon: DockerDaemon, run_id: str) -> str:
    """Return ``docker inspect`` of the (kept) container of a run."""
    ids = daemon.cli("ps", "-aq", "--filter", f"label={LABEL_RUN}={run_id}").stdout.split()
    assert len(ids) == 1, ids
    return daemon.inspect("container", ids[0].decode())


def test_baked_image_run_reports_back_without_database_access(
        docker_env: DockerDaemon, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    hello = load_flow(project / "flows.py", "hello")
    create_pool("dpool", type="docker")
    deployment = hello.deploy(name="baked", work_pool_name="dpool",
                              image=DockerImage("stowflow-test/baked"), push=False,
                              job_variables={"network_mode": "none", "auto_remove": False,
                                             "env": {"COLOUR": "blue"}})
    run = create_flow_run(deployment, {"name": "Docker"})
    run_worker("dpool")
    done = get_flow_run(run.id)
    logs = [line.message for line in read_logs(run.id)]
    assert done.state == "COMPLETED", (done.state_message, logs)
    assert "Hello Docker from a container!" in logs
    phases = {e.phase: e for e in read_events(run.id)}
    assert {"resolve", "auth", "install", "transfer", "import", "run"} <= set(phases)
    assert phases["resolve"].details["image"].startswith("stowflow-test/baked:")
    assert phases["transfer"].details["directory"] == "/opt/stowflow/flows"
    assert done.code_version == phases["resolve"].details["image_id"]
    inspected = json.loads(container_of(docker_env, run.id))[0]
    env = inspected["Config"]["Env"]
    assert "COLOUR=blue" in env
    assert not [e for e in env if e.startswith(("STOWFLOW_DATABASE_URL", "STOWFLOW_SECRET_KEY"))]
    assert inspected["HostConfig"]["NetworkMode"] == "none"  # it had no way to a database


def test_git_pull_at_run_time_keeps_every_secret_out_of_the_container(
        docker_env: DockerDaemon, project: Path, git_remote: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    git_remote.accept({("bot", TOKEN)})
    repo = git_remote.create_repo(files={"flows/etl.py": GIT_FLOW})
    Secret(value=TOKEN).save("gittok")
    monkeypatch.chdir(project)
    image = DockerImage("stowflow-test/runtime")
    from stowflow_docker.images import build_image

    built = build_image(image, project)
    create_pool("gitpool", type="docker")
    deployment = upsert_deployment(
        name="git", flow_name="etl", entrypoint="flows/etl.py:etl", work_pool_name="gitpool",
        job_variables={"image": built.image, "network_mode": "host", "auto_remove": False},
        pull_steps=[{"stowflow.deployments.steps.git_clone": {
            "repository": repo.url,
            "credentials": {"username": "bot",
                            "access_token": "{{ stowflow.blocks.secret.gittok.value }}"}}}])
    run = create_flow_run(deployment)
    run_worker("gitpool")
    done = get_flow_run(run.id)
    logs = [line.message for line in read_logs(run.id)]
    assert done.state == "COMPLETED", (done.state_message, logs)
    assert "pulled from git, version two" in logs
    assert done.code_version == repo.rev_parse("main")
    assert git_remote.requests_for(repo)[-1].user == "bot"
    events = {e.phase: e for e in read_events(run.id)}
    assert events["auth"].details["blocks"] == ["secret/gittok"]
    ids = docker_env.cli("ps", "-aq", "--filter", f"label={LABEL_RUN}={run.id}").stdout.split()
    container_logs = docker_env.cli("logs", ids[0].decode()).stdout.decode()
    assert "pulled from git" in container_logs  # the grep below reads the real output
    assert_no_secret(TOKEN, container_of(docker_env, run.id), container_logs, logs,
                     repr([e.details for e in events.values()]), done.state_message or "")


def test_image_without_stowflow_and_missing_images(
        docker_env: DockerDaemon, python_base_image: str, project: Path,
        docker_registry: Any, registry_credentials: Any,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    create_pool("bare", type="docker")
    deployment = upsert_deployment(name="bare", flow_name="hello", entrypoint="flows.py:hello",
                                   work_pool_name="bare",
                                   job_variables={"image": python_base_image,
                                                  "network_mode": "none"})
    run = create_flow_run(deployment)
    run_worker("bare")
    done = get_flow_run(run.id)
    assert done.state == "FAILED"
    assert "has no stowflow in it" in (done.state_message or "")
    assert "pip install stowflow-docker" in (done.state_message or "")

    monkeypatch.chdir(project)
    hello = load_flow(project / "flows.py", "hello")
    ghost = f"{docker_registry.address}/nobody/ghost:1"
    with pytest.raises(ImageNotFoundError, match="neither on the Docker host nor in its registry"):
        hello.deploy(name="ghost", work_pool_name="bare", build=False, push=False,
                     image=DockerImage(ghost, credentials=registry_credentials))
    with pytest.raises(ImageNotFoundError, match="its registry could not be asked"):
        hello.deploy(name="ghost", work_pool_name="bare",
                     image="127.0.0.1:9/nobody/ghost:1", build=False, push=False)
    with pytest.raises(DeploymentError, match="does not use job variable"):
        hello.deploy(name="typo", work_pool_name="bare", image=python_base_image,
                     build=False, push=False, job_variables={"mem_limt": "1g"})


def test_docker_pool_type_without_the_plugin_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STOWFLOW_DISABLE_PLUGINS", "docker")
    code = main(["work-pool", "create", "p", "--type", "docker"])
    out = capsys.readouterr()
    assert code != 0
    assert "pip install stowflow-docker" in out.out + out.err
    assert "Traceback" not in out.out + out.err


def test_retry_reruns_the_image_the_run_ran_even_when_its_tag_moved(
        docker_env: DockerDaemon, project: Path, python_base_image: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Fails on the old code: the retry was refused ("no pull step of this deployment can be
    # pinned"); an image run's code version is its image id, and the retry runs that id.
    from stowflow.runs import retry_flow_run

    monkeypatch.chdir(project)
    hello = load_flow(project / "flows.py", "hello")
    create_pool("rpool", type="docker")
    deployment = hello.deploy(name="pinned", work_pool_name="rpool",
                              image=DockerImage("stowflow-test/pinned"), push=False,
                              job_variables={"network_mode": "none"})
    run = create_flow_run(deployment, {"name": "again"})
    run_worker("rpool")
    done = get_flow_run(run.id)
    assert done.state == "COMPLETED" and done.code_version.startswith("sha256:")
    tag = next(e for e in read_events(run.id) if e.phase == "resolve").details["image"]
    docker_env.cli("tag", python_base_image, tag)  # the tag now names an image without the flow
    retry = retry_flow_run(run.id)
    assert retry.pinned_code_version == done.code_version
    run_worker("rpool")
    rerun = get_flow_run(retry.id)
    logs = [line.message for line in read_logs(retry.id)]
    assert rerun.state == "COMPLETED", (rerun.state_message, logs)
    assert "Hello again from a container!" in logs
    assert rerun.code_version == done.code_version
