"""Docker pools on a real daemon: how a container run ends (cancel, out of memory, a dead
worker, a remote daemon cut off) and every job variable a docker pool accepts, honoured.

One image (``runner_image``) is built per module and shared by every test; each test makes
its own pool, deployment and containers (labelled with its run ids) and removes them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from stowflow.cli.app import main
from stowflow.deployments.records import upsert_deployment
from stowflow.errors import DaemonUnreachableError, StowflowError
from stowflow.runs import (
    create_flow_run,
    get_flow_run,
    read_events,
    read_logs,
    request_cancel,
)
from stowflow.testing import assert_no_secret
from stowflow.testing.faults import FaultProxy
from stowflow.testing.packages import build_wheel, serve_package_index
from stowflow.testing.servers.docker import DockerDaemon, DockerRegistry, make_tls_certificates
from stowflow.workers.pools import create_pool
from stowflow.workers.types import worker_type
from stowflow.workers.worker import Worker
from stowflow_docker import DockerImage, DockerRegistryCredentials
from stowflow_docker._client import docker_client
from stowflow_docker.images import build_image, push_image
from stowflow_docker.worker import LABEL_RUN

pytestmark = pytest.mark.slow

FLOWS = '''\
import os
import time
from pathlib import Path

from stowflow import flow


@flow(log_prints=True)
def sleepy(seconds: float = 300):
    print("sleepy started")
    time.sleep(seconds)


@flow(log_prints=True)
def hog(megabytes: int = 1024):
    print("hog started")
    blocks = []
    for _ in range(megabytes):
        blocks.append(b"x" * (1 << 20))
    print("hog survived")


def _memory_limit() -> str:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        if os.path.exists(path):
            return Path(path).read_text().strip()
    return "unknown"


@flow(log_prints=True)
def settings():
    Path("/data/out.txt").write_text(f"{os.environ['COLOUR']} {_memory_limit()}")
    print("settings written")


@flow(log_prints=True)
def ping():
    print("pong")


@flow(log_prints=True)
def extra():
    import sfdockerextra

    print(f"sfdockerextra {sfdockerextra.VERSION} from {sfdockerextra.__file__}")


@flow(log_prints=True)
def indexed():
    import sfdockerindexed

    print(f"sfdockerindexed {sfdockerindexed.VERSION} from {sfdockerindexed.__file__}")
'''


@pytest.fixture(scope="module")
def runner_image(docker_daemon: DockerDaemon, python_base_image: str,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One image with the module's flows baked in, built once for every test here."""
    root = tmp_path_factory.mktemp("runner-project")
    (root / "flows.py").write_text(FLOWS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STOWFLOW_HOME", str(tmp_path_factory.mktemp("runner-home")))
        patch.setenv("STOWFLOW_DOCKER_BASE_IMAGE", python_base_image)
        patch.setenv("STOWFLOW_DOCKER_BUILD_NETWORK", "host")
        built = build_image(DockerImage("stowflow-test/runner"), root)
    yield built.image


@pytest.fixture
def containers(docker_env: DockerDaemon) -> Iterator[Callable[[str], list[str]]]:
    """``containers(run_id)`` lists the ids of a run's containers; all are removed after."""
    seen: list[str] = []

    def of(run_id: str) -> list[str]:
        ids = docker_env.cli("ps", "-aq", "--filter",
                             f"label={LABEL_RUN}={run_id}").stdout.decode().split()
        seen.extend(ids)
        return ids

    yield of
    if seen:
        docker_env.cli("rm", "-f", *sorted(set(seen)), check=False)


def deploy(pool: str, image: str, entrypoint: str, **job_variables: Any) -> str:
    """Create (if needed) docker pool ``pool`` and a deployment of ``entrypoint`` in it."""
    create_pool(pool, type="docker", exist_ok=True)
    name = entrypoint.rsplit(":", 1)[1]
    return upsert_deployment(
        name=f"{name}-{pool}", flow_name=name, entrypoint=entrypoint, work_pool_name=pool,
        job_variables={"image": image, "network_mode": "none", **job_variables},
        pull_steps=[{"stowflow.deployments.steps.set_working_directory":
                     {"directory": "/opt/stowflow/flows"}}])


def worker(pool: str, *, launcher: dict[str, Any] | None = None, **options: Any) -> Worker:
    """A docker pool's worker with short intervals (it claims once, then drains);
    ``launcher`` sets the DockerLauncher's fields (``daemon_grace``, ``lifeline_s``...)."""
    settings = {"poll_interval": 0.2, "heartbeat_interval": 0.3, "tick": 0.05,
                "cancel_grace": 5.0, **options}
    made = worker_type("docker").make_launcher(pool)
    for name, value in (launcher or {}).items():
        assert hasattr(made, name), name
        setattr(made, name, value)
    return Worker(pool, launcher=made, **settings)


def run_to_end(pool: str, **options: Any) -> None:
    """Run one claim of ``pool``'s worker until its runs are done (bounded)."""
    thread = threading.Thread(target=worker(pool, **options).start,
                              kwargs={"run_once": True, "install_signal_handlers": False},
                              daemon=True)
    thread.start()
    thread.join(timeout=180)
    assert not thread.is_alive(), "the worker did not finish within 180 s"


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def logs_of(run_id: str) -> list[str]:
    """The run's log messages."""
    return [line.message for line in read_logs(run_id)]


def inspect(daemon: DockerDaemon, container: str) -> dict[str, Any]:
    """``docker inspect`` of one container, parsed."""
    return json.loads(daemon.inspect("container", container))[0]


def test_cancelling_a_run_stops_its_container(
        docker_env: DockerDaemon, runner_image: str,
        containers: Callable[[str], list[str]]) -> None:
    deployment = deploy("cancelpool", runner_image, "flows.py:sleepy", auto_remove=False)
    run = create_flow_run(deployment)
    thread = threading.Thread(target=worker("cancelpool").start,
                              kwargs={"run_once": True, "install_signal_handlers": False},
                              daemon=True)
    thread.start()
    wait_for(lambda: "sleepy started" in logs_of(run.id), 90, "the flow to start")
    (container,) = containers(run.id)
    assert inspect(docker_env, container)["State"]["Running"]
    request_cancel(run.id)
    thread.join(timeout=30)  # SIGTERM reaches the flow at once: well inside cancel_grace
    assert not thread.is_alive()
    done = get_flow_run(run.id)
    assert done.state == "CANCELLED", (done.state_message, logs_of(run.id))
    state = inspect(docker_env, container)["State"]
    assert not state["Running"] and state["ExitCode"] == 128 + signal.SIGTERM
    assert "run stopped by signal SIGTERM" in logs_of(run.id)


def test_out_of_memory_is_crashed_with_the_reason(
        docker_env: DockerDaemon, runner_image: str,
        containers: Callable[[str], list[str]]) -> None:
    deployment = deploy("oompool", runner_image, "flows.py:hog", mem_limit="160m")
    run = create_flow_run(deployment, {"megabytes": 2048})
    run_to_end("oompool")
    done = get_flow_run(run.id)
    logs = logs_of(run.id)
    assert done.state == "CRASHED", (done.state_message, logs)
    assert done.state_message == ("the container ran out of memory (mem_limit 160m) and was "
                                  "killed")
    assert "hog started" in logs and "hog survived" not in logs
    assert containers(run.id) == []  # auto_remove (the default) removed it


def test_a_dead_workers_container_stops_and_is_removed(
        docker_env: DockerDaemon, runner_image: str, stowflow_home: Path,
        containers: Callable[[str], list[str]]) -> None:
    deployment = deploy("deadpool", runner_image, "flows.py:sleepy")
    run = create_flow_run(deployment)
    process = subprocess.Popen(
        [sys.executable, "-m", "stowflow", "worker", "start", "--pool", "deadpool",
         "--poll-interval", "0.2", "--heartbeat-interval", "0.3", "--no-scheduler"],
        env={**os.environ, "DOCKER_HOST": docker_env.host}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    try:
        wait_for(lambda: "sleepy started" in logs_of(run.id), 90, "the flow to start")
        (container,) = containers(run.id)
        process.kill()  # no chance to clean up: the container must notice by itself
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    # The worker's attach connection closed with it, so the container's stdin ended.
    wait_for(lambda: not inspect(docker_env, container)["State"]["Running"], 20,
             "the dead worker's container to stop")
    assert inspect(docker_env, container)["State"]["ExitCode"] == 70
    # The next worker of the pool marks the run CRASHED (its last heartbeat is older than
    # crash_timeout) and removes what is left of it.
    time.sleep(1.5)
    run_to_end("deadpool", crash_timeout=1.0)
    assert get_flow_run(run.id).state == "CRASHED"
    assert containers(run.id) == []


@dataclass
class BehindProxy:
    """A sleepy run in a container, its worker reaching the daemon through ``proxy``."""

    proxy: FaultProxy
    run_id: str
    container: str
    thread: threading.Thread


def require_tls_port(docker_env: DockerDaemon) -> None:
    """Skip when a developer pointed the tests at a daemon of their own (it has no TLS
    port the tests can reach); in CI the fixture starts the daemon, so this is a failure."""
    if docker_env.tls_host is None or docker_env.cert_path is None:
        message = "the session's daemon was not started by the fixture: it has no TLS port"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def behind_proxy(docker_env: DockerDaemon, runner_image: str,
                 fault_proxy: Callable[..., FaultProxy], monkeypatch: pytest.MonkeyPatch,
                 containers: Callable[[str], list[str]]) -> Callable[..., BehindProxy]:
    """``behind_proxy(pool, **launcher_fields)``: the worker of ``pool`` reaches the
    fixture daemon's TLS port through a FaultProxy that forwards untouched (until the test
    cuts or freezes it); returns once the run's flow has started."""
    require_tls_port(docker_env)
    tls_host, cert_path = docker_env.tls_host, docker_env.cert_path

    def start(pool: str, **launcher: Any) -> BehindProxy:
        proxy = fault_proxy(tls_host.replace("tcp://", "http://"), rate=0.0)
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
        monkeypatch.setenv("DOCKER_CERT_PATH", str(cert_path))
        run = create_flow_run(deploy(pool, runner_image, "flows.py:sleepy"))
        thread = threading.Thread(target=worker(pool, launcher=launcher).start,
                                  kwargs={"run_once": True, "install_signal_handlers": False},
                                  daemon=True)
        thread.start()
        wait_for(lambda: "sleepy started" in logs_of(run.id), 90, "the flow to start")
        (container,) = containers(run.id)  # seen through the daemon's unix socket
        return BehindProxy(proxy, run.id, container, thread)

    return start


def test_a_worker_cut_off_from_its_remote_daemon_crashes_the_run_with_the_reason(
        docker_env: DockerDaemon, runner_image: str, behind_proxy: Callable[..., BehindProxy],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Cut: every connection reset, the port closed — the network going away.
    setup = behind_proxy("lostpool", daemon_grace=2.0)
    setup.proxy.close()
    cut = time.monotonic()
    # The container's stdin was the worker's attach connection: it stops by itself.
    wait_for(lambda: not inspect(docker_env, setup.container)["State"]["Running"], 20,
             "the cut-off worker's container to stop")
    assert inspect(docker_env, setup.container)["State"]["ExitCode"] == 70
    setup.thread.join(timeout=60)
    assert not setup.thread.is_alive(), "the worker kept waiting for an unreachable daemon"
    done = get_flow_run(setup.run_id)
    assert done.state == "CRASHED", (done.state, done.state_message, logs_of(setup.run_id))
    assert done.state_message is not None
    assert done.state_message.startswith(
        "the worker lost the connection to the Docker daemon "
        f"(tcp://127.0.0.1:{setup.proxy.port}) running the container for 2 s: inspecting the "
        "container of flow run"), done.state_message
    assert "no Docker daemon answered" in done.state_message
    assert done.state_message in logs_of(setup.run_id)
    assert time.monotonic() - cut < 30  # the grace, not the client's 300 s timeout
    # The worker could not remove the stopped container; the next worker on that daemon
    # does, before its first run (the crashed run is final, auto_remove is the default).
    assert inspect(docker_env, setup.container)["State"]["Status"] == "exited"
    monkeypatch.setenv("DOCKER_HOST", docker_env.host)
    monkeypatch.delenv("DOCKER_TLS_VERIFY")
    monkeypatch.delenv("DOCKER_CERT_PATH")
    after = create_flow_run(deploy("lostpool", runner_image, "flows.py:ping"))
    run_to_end("lostpool")
    assert get_flow_run(after.id).state == "COMPLETED", logs_of(after.id)
    assert docker_env.cli("ps", "-aq", "--filter", f"id={setup.container}").stdout.strip() == b""


def test_a_worker_partitioned_from_its_remote_daemon_crashes_the_run_and_its_container_stops(
        docker_env: DockerDaemon, behind_proxy: Callable[..., BehindProxy]) -> None:
    # A partition closes nothing: the attach connection stays up on both ends, so only the
    # worker's keepalive stopping tells the container, and only a short inspection timeout
    # keeps the worker's loop from waiting on the daemon for the client's 300 s.
    setup = behind_proxy("partpool", daemon_grace=2.0, lifeline_s=6.0, poll_timeout=2)
    setup.proxy.freeze()
    setup.thread.join(timeout=60)
    assert not setup.thread.is_alive(), "the worker kept waiting for an unanswering daemon"
    done = get_flow_run(setup.run_id)
    assert done.state == "CRASHED", (done.state, done.state_message, logs_of(setup.run_id))
    assert done.state_message is not None
    assert "the worker lost the connection to the Docker daemon" in done.state_message
    assert "the Docker daemon did not answer in time" in done.state_message
    wait_for(lambda: not inspect(docker_env, setup.container)["State"]["Running"], 30,
             "the partitioned container to stop (its lifeline)")
    assert inspect(docker_env, setup.container)["State"]["ExitCode"] == 70
    assert "the worker sent nothing for 6 s (cut off)" in docker_env.cli(
        "logs", setup.container).stderr.decode()
    # docker-py follows output without a timeout: the settled run's stream was closed, so
    # no reader thread is left waiting on the frozen connection.
    wait_for(lambda: not any(t.name == f"stowflow-docker-{setup.run_id}" and t.is_alive()
                             for t in threading.enumerate()), 10,
             "the run's output reader to end")


def test_mem_limit_volumes_network_and_env_are_honoured(
        docker_env: DockerDaemon, runner_image: str, tmp_path: Path,
        containers: Callable[[str], list[str]]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    deployment = deploy("setpool", runner_image, "flows.py:settings", mem_limit="200m",
                        volumes=[f"{data}:/data"], env={"COLOUR": "green"},
                        auto_remove=False)
    run = create_flow_run(deployment)
    run_to_end("setpool")
    done = get_flow_run(run.id)
    assert done.state == "COMPLETED", (done.state_message, logs_of(run.id))
    assert (data / "out.txt").read_text() == f"green {200 * 1024 * 1024}"
    (container,) = containers(run.id)
    host = inspect(docker_env, container)["HostConfig"]
    assert host["Memory"] == 200 * 1024 * 1024 and host["NetworkMode"] == "none"
    assert host["Binds"] == [f"{data}:/data"]


def test_extra_pip_packages_install_once_per_image(
        docker_env: DockerDaemon, runner_image: str, tmp_path: Path,
        containers: Callable[[str], list[str]]) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = build_wheel(wheels, "sfdockerextra", "2.5")
    image_id = json.loads(docker_env.inspect("image", runner_image))[0]["Id"]
    volume = f"stowflow-envlayers-{image_id.split(':')[-1][:16]}"
    docker_env.cli("volume", "rm", "-f", volume)  # a daemon kept from an earlier session
    deployment = deploy("pippool", runner_image, "flows.py:extra",
                        volumes=[f"{wheels}:/wheels:ro"],
                        env={"EXTRA_PIP_PACKAGES": f"/wheels/{wheel.name}"})
    try:
        installs = []
        for _ in range(2):
            run = create_flow_run(deployment)
            run_to_end("pippool")
            done = get_flow_run(run.id)
            logs = logs_of(run.id)
            assert done.state == "COMPLETED", (done.state_message, logs)
            assert any(line.startswith("sfdockerextra 2.5 from /opt/stowflow/home/cache/envlayers/")
                       for line in logs), logs
            installs.append(next(e for e in read_events(run.id)
                                 if e.phase == "install" and e.status == "ok"))
        assert [e.details["cached"] for e in installs] == [False, True]
        assert installs[0].details["key"] == installs[1].details["key"]
    finally:
        docker_env.cli("volume", "rm", "-f", volume, check=False)


@pytest.fixture
def package_index(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A PEP 503 simple index on 127.0.0.1 with one wheel built here; yields its URL and
    the paths requested from it."""
    wheel = build_wheel(tmp_path, "sfdockerindexed", "3.1")
    with serve_package_index([wheel]) as index:
        yield index.url, index.requested


def test_extra_pip_packages_from_an_index_install_once_per_image(
        docker_env: DockerDaemon, runner_image: str, package_index: tuple[str, list[str]],
        containers: Callable[[str], list[str]]) -> None:
    url, requested = package_index
    image_id = json.loads(docker_env.inspect("image", runner_image))[0]["Id"]
    volume = f"stowflow-envlayers-{image_id.split(':')[-1][:16]}"
    docker_env.cli("volume", "rm", "-f", volume)  # a daemon kept from an earlier session
    # The container reaches the index on the host's 127.0.0.1: network_mode host.
    deployment = deploy("indexpool", runner_image, "flows.py:indexed", network_mode="host",
                        env={"EXTRA_PIP_PACKAGES": f"--index-url {url} sfdockerindexed==3.1"})
    try:
        installs, asked = [], []
        for _ in range(2):
            before = len(requested)
            run = create_flow_run(deployment)
            run_to_end("indexpool")
            done = get_flow_run(run.id)
            logs = logs_of(run.id)
            assert done.state == "COMPLETED", (done.state_message, logs)
            assert any(line.startswith(
                "sfdockerindexed 3.1 from /opt/stowflow/home/cache/envlayers/")
                for line in logs), logs
            installs.append(next(e for e in read_events(run.id)
                                 if e.phase == "install" and e.status == "ok"))
            asked.append(requested[before:])
        assert "/simple/sfdockerindexed/" in asked[0]
        assert any(path.startswith("/files/sfdockerindexed-3.1") for path in asked[0])
        assert asked[1] == []  # the second run of the image used the cached layer
        assert [e.details["cached"] for e in installs] == [False, True]
        assert installs[0].details["key"] == installs[1].details["key"]
    finally:
        docker_env.cli("volume", "rm", "-f", volume, check=False)


def test_image_pull_policies_and_registry_credentials(
        docker_env: DockerDaemon, runner_image: str, docker_registry: DockerRegistry,
        registry_credentials: DockerRegistryCredentials,
        containers: Callable[[str], list[str]]) -> None:
    name = f"{docker_registry.address}/team/pull-{os.getpid()}"
    docker_env.cli("tag", runner_image, f"{name}:v1")
    pushed = push_image(name, "v1", registry_credentials)
    # Untag it (runner_image keeps the layers), so the daemon has it only if it pulls it.
    docker_env.cli("image", "rm", f"{name}:v1")
    assert docker_env.cli("image", "inspect", pushed.image, check=False).returncode != 0
    registry_credentials.save("reg")
    placeholder = "{{ stowflow.blocks.docker-registry-credentials.reg }}"

    def run_with(pool: str, image: str, **job_variables: Any) -> Any:
        run = create_flow_run(deploy(pool, image, "flows.py:ping", auto_remove=False,
                                     **job_variables))
        run_to_end(pool)
        return get_flow_run(run.id)

    never = run_with("never", f"{name}:v1", image_pull_policy="never")
    assert never.state == "FAILED"
    assert "is not on the Docker host and image_pull_policy is 'never'" in never.state_message

    refused = run_with("noauth", pushed.image, image_pull_policy="always")
    assert refused.state == "FAILED"
    assert "the registry refused the credentials" in refused.state_message

    pulled = run_with("auth", pushed.image, image_pull_policy="if_not_present",
                      registry_credentials=placeholder)
    present = run_with("present", pushed.image, image_pull_policy="if_not_present")
    again = run_with("always", pushed.image, image_pull_policy="always",
                     registry_credentials=placeholder)
    resolved = {}
    for run in (pulled, present, again):
        assert run.state == "COMPLETED", (run.state_message, logs_of(run.id))
        assert "pong" in logs_of(run.id)
        resolved[run.id] = next(e for e in read_events(run.id) if e.phase == "resolve").details
    assert [resolved[r.id]["pulled"] for r in (pulled, present, again)] == [True, False, True]
    assert {r.code_version for r in (pulled, present, again)} == {
        json.loads(docker_env.inspect("image", runner_image))[0]["Id"]}
    everything = [docker_env.inspect("container", c) for r in (pulled, present, again)
                  for c in containers(r.id)]
    assert len(everything) == 3
    assert_no_secret(docker_registry.password, *everything, docker_registry.log_text(),
                     *(logs_of(r.id) for r in (never, refused, pulled, present, again)),
                     refused.state_message or "")


def test_push_section_of_stowflow_yaml_through_the_cli(
        docker_env: DockerDaemon, docker_registry: DockerRegistry, project: Path,
        registry_credentials: DockerRegistryCredentials, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], containers: Callable[[str], list[str]]) -> None:
    registry_credentials.save("reg")
    name = f"{docker_registry.address}/team/cli-{os.getpid()}"
    placeholder = "{{ stowflow.blocks.docker-registry-credentials.reg }}"
    (project / "stowflow.yaml").write_text(json.dumps({
        "build": [{"stowflow_docker.deployments.steps.build_docker_image": {
            "id": "build-image", "image_name": name, "dockerfile": "auto"}}],
        "push": [{"stowflow_docker.deployments.steps.push_docker_image": {
            "id": "push-image", "image_name": "{{ build-image.image_name }}",
            "tag": "{{ build-image.tag }}", "credentials": placeholder}}],
        "pull": [{"stowflow.deployments.steps.set_working_directory": {
            "directory": "{{ build-image.code_directory }}"}}],
        "deployments": [{"name": "pushed", "entrypoint": "flows.py:hello",
                         "work_pool": {"name": "clipool", "job_variables": {
                             "image": "{{ push-image.image }}", "network_mode": "none",
                             "image_pull_policy": "always",
                             "registry_credentials": placeholder}}}],
    }))
    create_pool("clipool", type="docker")
    monkeypatch.chdir(project)
    assert main(["deploy", "--all"]) == 0
    out, err = capsys.readouterr()
    from stowflow.db import DeploymentRecord, session

    with session() as db:
        record = db.query(DeploymentRecord).one()
    image = record.job_variables["image"]
    assert image.startswith(f"{name}@sha256:")
    assert f"PUT /v2/team/cli-{os.getpid()}/manifests/" in docker_registry.log_text()
    run = create_flow_run(record.id, {"name": "registry"})
    run_to_end("clipool")
    done = get_flow_run(run.id)
    assert done.state == "COMPLETED", (done.state_message, logs_of(run.id))
    assert "Hello registry from a container!" in logs_of(run.id)
    assert next(e for e in read_events(run.id) if e.phase == "resolve").details["pulled"]
    assert_no_secret(docker_registry.password, out, err, json.dumps(record.job_variables),
                     docker_registry.log_text())


@pytest.mark.parametrize(("job_variables", "message"), [
    ({"mem_limit": [1]}, "job variable mem_limit has the wrong type"),
    ({"volumes": "/a:/b"}, "job variable volumes has the wrong type"),
    ({"auto_remove": "yes"}, "job variable auto_remove has the wrong type"),
    ({"image_pull_policy": "sometimes"}, "image_pull_policy 'sometimes' is not one of"),
    ({"registry_credentials": "hunter2"}, "registry_credentials must be a block placeholder"),
])
def test_job_variables_a_container_cannot_honour_are_refused_at_deploy_time(
        docker_env: DockerDaemon, runner_image: str, project: Path,
        monkeypatch: pytest.MonkeyPatch, job_variables: dict[str, Any], message: str) -> None:
    create_pool("strict", type="docker", exist_ok=True)
    from stowflow.deployments.records import check_job_variables

    with pytest.raises(StowflowError, match=message):
        check_job_variables("strict", {"image": runner_image, **job_variables})


def test_pool_defaults_from_the_cli_overridden_per_deployment(
        docker_env: DockerDaemon, runner_image: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], containers: Callable[[str], list[str]]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    assert main(["work-pool", "create", "defaults", "--type", "docker", "--env", "COLOUR=red",
                 "--job-variable", f"image={runner_image}", "--job-variable", "mem_limit=200m",
                 "--job-variable", f'volumes=["{data}:/data"]',
                 "--job-variable", "network_mode=none", "--job-variable", "auto_remove=false"]) == 0
    from stowflow.deployments.records import check_job_variables

    own = {"mem_limit": "300m", "env": {"COLOUR": "blue"}}
    check_job_variables("defaults", own)  # the pool's image counts: it needs none of its own
    deployment = upsert_deployment(
        name="defaults", flow_name="settings", entrypoint="flows.py:settings",
        work_pool_name="defaults", job_variables=own,
        pull_steps=[{"stowflow.deployments.steps.set_working_directory":
                     {"directory": "/opt/stowflow/flows"}}])
    run = create_flow_run(deployment)
    run_to_end("defaults")
    done = get_flow_run(run.id)
    assert done.state == "COMPLETED", (done.state_message, logs_of(run.id))
    assert (data / "out.txt").read_text() == f"blue {300 * 1024 * 1024}"
    (container,) = containers(run.id)  # auto_remove false came from the pool
    assert inspect(docker_env, container)["HostConfig"]["NetworkMode"] == "none"

    capsys.readouterr()
    for args, message in [
        (["--type", "docker", "--job-variable", "mem_limt=1g"],
         "a docker pool has no job variable mem_limt"),
        (["--type", "docker", "--job-variable", "mem_limit=lots"],
         "job variable mem_limit 'lots' is not a size"),
        (["--type", "docker", "--job-variable", "volumes=/a"],
         "job variable volumes has the wrong type"),
        (["--type", "docker", "--job-variable", 'env={"A": "1"}'],
         "set the environment with --env NAME=VALUE"),
        (["--job-variable", "image=x"], "a process pool has only the environment"),
    ]:
        assert main(["work-pool", "create", "bad", *args]) != 0
        out = capsys.readouterr()
        assert message in " ".join((out.out + out.err).split()), (args, out)
        assert "Traceback" not in out.out + out.err


def test_a_remote_daemon_over_tls(docker_env: DockerDaemon, runner_image: str, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  containers: Callable[[str], list[str]]) -> None:
    require_tls_port(docker_env)
    monkeypatch.setenv("DOCKER_HOST", docker_env.tls_host)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(docker_env.cert_path))
    run = create_flow_run(deploy("tlspool", runner_image, "flows.py:ping", auto_remove=False))
    run_to_end("tlspool")
    done = get_flow_run(run.id)
    assert done.state == "COMPLETED", (done.state_message, logs_of(run.id))
    assert "pong" in logs_of(run.id)
    assert len(containers(run.id)) == 1  # the unix socket sees what the TLS client made

    # A client certificate the daemon's CA did not sign: one clear error, no traceback.
    stranger = make_tls_certificates(tmp_path / "stranger", name="stranger")
    shutil.copyfile(docker_env.cert_path / "ca.pem", stranger / "ca.pem")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(stranger))
    with pytest.raises(DaemonUnreachableError, match="TLS handshake with the Docker daemon"):
        docker_client()
