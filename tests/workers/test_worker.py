"""The process worker end to end: a real run subprocess pulls, imports and runs a flow."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from stowflow.blocks import Secret
from stowflow.deployments.records import upsert_deployment
from stowflow.runs import create_flow_run, get_flow_run, read_events, read_logs, request_cancel
from stowflow.testing import assert_no_secret
from stowflow.testing.packages import build_wheel
from stowflow.workers.claim import reap_crashed_runs
from stowflow.workers.pools import create_pool
from stowflow.workers.runner import run_dir
from stowflow.workers.worker import Worker

FLOW = '''
import logging
import os
import time

from stowflow import flow
from stowflow.blocks import Secret


@flow(log_prints=True)
def hello(name: str = "World", mode: str = "ok"):
    print(f"Hello {name}!")
    print("cwd=" + os.getcwd())
    logging.getLogger("user").warning("the token is %s", Secret.load("tok").get())
    if mode == "fail":
        raise ValueError("boom from the flow")
    if mode == "sleep":
        time.sleep(120)
    if mode == "nap":
        time.sleep(3)
        print("woke up")
    if mode == "die":
        os.write(2, ("fatal: " + Secret.load("tok").get() + "\\n").encode())
        os._exit(9)
    if mode == "state":  # what a run inherits from the fork server (and from earlier runs)
        print(f"ppid={os.getppid()} seen={getattr(os, '_sf_seen', False)} "
              f"mark={os.environ.get('SF_MARK')}")
        os._sf_seen = True
    if mode == "layer":
        import sfdemo_layer
        print("layer version " + sfdemo_layer.VERSION)
    return name


@flow
async def hello_async(name: str = "World"):
    import asyncio

    await asyncio.sleep(0)
    print(f"async hello {name}")
'''

STEPS = '''
import os

def pull_here(directory, version, token):
    print("pulling with " + token)
    os.chdir(directory)
    return {"directory": directory, "version": version}
'''

TOKEN = "tok-5f0c2a9e-very-secret"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A flow project plus a custom pull step module on the run's PYTHONPATH."""
    root = tmp_path / "project"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "hello.py").write_text(textwrap.dedent(FLOW))
    steps = tmp_path / "steplib"
    steps.mkdir()
    (steps / "teststeps.py").write_text(STEPS)
    return root


def deploy(project: Path, *, enforce: bool = True, env: dict[str, str] | None = None) -> str:
    create_pool("pool", exist_ok=True)
    Secret(value=TOKEN).save("tok", overwrite=True)
    steplib = project.parent / "steplib"
    return upsert_deployment(
        name="dep", flow_name="hello", entrypoint="flows/hello.py:hello",
        work_pool_name="pool", enforce_parameter_schema=enforce,
        parameter_schema={"type": "object", "properties": {"name": {"type": "string"},
                                                           "mode": {"type": "string"}}},
        job_variables={"env": {"PYTHONPATH": str(steplib), **(env or {})}},
        pull_steps=[{"teststeps.pull_here": {
            "directory": str(project), "version": "v-123",
            "token": "{{ stowflow.blocks.secret.tok.value }}"}}])


def work(**kwargs) -> Worker:
    worker = Worker("pool", poll_interval=0.1, heartbeat_interval=0.2, **kwargs)
    worker.start(run_once=True, install_signal_handlers=False)
    return worker


def messages(run_id: str) -> list[str]:
    return [line.message for line in read_logs(run_id)]


def test_run_completes_with_logs_phases_and_code_version(stowflow_database, project):
    dep = deploy(project)
    run = create_flow_run(dep, {"name": "Ada"})
    work()
    done = get_flow_run(run.id)
    assert done.state == "COMPLETED", messages(run.id)
    assert done.code_version == "v-123"
    assert done.started_at and done.ended_at and done.worker_name
    lines = messages(run.id)
    assert lines.count("Hello Ada!") == 1  # log_prints does not log captured prints twice
    assert f"cwd={project}" in lines  # the last directory output became the working dir
    assert "user: the token is ***" in lines
    assert "pulling with ***" in lines
    assert_no_secret(TOKEN, lines, done.state_message or "")
    events = read_events(run.id)
    assert [e.phase for e in events] == ["resolve", "install", "auth", "transfer", "import",
                                         "run"]
    assert [e.status for e in events] == ["ok", "skipped", "ok", "ok", "ok", "ok"]
    assert all(e.duration_s >= 0 for e in events)
    assert not any(m.startswith("alembic") for m in lines)
    assert events[2].details["blocks"] == ["secret/tok"]
    assert events[3].details["code_version"] == "v-123"
    assert not run_dir(run.id).exists()  # the workspace is removed afterwards


def test_failing_flow_is_failed_with_its_traceback(stowflow_database, project):
    run = create_flow_run(deploy(project), {"mode": "fail"})
    work()
    failed = get_flow_run(run.id)
    assert failed.state == "FAILED"
    assert failed.state_message == "run failed: ValueError: boom from the flow"
    text = "\n".join(messages(run.id))
    assert "Traceback" in text and 'raise ValueError("boom from the flow")' in text
    assert read_events(run.id)[-1].phase == "run" and read_events(run.id)[-1].status == "failed"


def test_flow_validates_parameters_when_the_schema_is_not_enforced(stowflow_database, project):
    run = create_flow_run(deploy(project, enforce=False), {"bogus": 1})
    work()
    failed = get_flow_run(run.id)
    assert failed.state == "FAILED"
    assert failed.state_message.startswith("import failed:")
    assert "bogus" in failed.state_message


def test_interpreter_death_is_crashed(stowflow_database, project):
    run = create_flow_run(deploy(project), {"mode": "die"})
    # a worker process of its own: it knows the token only by loading the run's blocks
    subprocess.run([sys.executable, "-m", "stowflow", "worker", "start", "--pool", "pool",
                    "--run-once", "--poll-interval", "0.1"], env=os.environ.copy(),
                   check=True, timeout=120, capture_output=True)
    crashed = get_flow_run(run.id)
    assert crashed.state == "CRASHED"
    assert crashed.state_message == "the run process exited with code 9"
    lines = messages(run.id)
    assert "fatal: ***" in lines[-1]  # the raw output's tail, redacted by the worker
    assert_no_secret(TOKEN, lines)


def test_cancel_stops_a_running_flow(stowflow_database, project):
    run = create_flow_run(deploy(project), {"mode": "sleep"})
    worker = Worker("pool", poll_interval=0.1, heartbeat_interval=0.2)
    thread = threading.Thread(target=worker.start,
                              kwargs={"run_once": True, "install_signal_handlers": False})
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while "Hello World!" not in messages(run.id):
            assert time.monotonic() < deadline, messages(run.id)
            time.sleep(0.1)
        request_cancel(run.id)
        thread.join(timeout=30)
        assert not thread.is_alive()
    finally:
        worker.stop()
        worker.stop()
        thread.join(timeout=30)
    cancelled = get_flow_run(run.id)
    assert cancelled.state == "CANCELLED"
    assert cancelled.state_message == "cancelled: cancellation requested"
    assert any("cancelling: cancellation requested" in m for m in messages(run.id))


def test_extra_pip_packages_layer_is_used_and_failures_fail_the_run(
        stowflow_database, project, tmp_path, monkeypatch):
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    wheel = build_wheel(tmp_path, "sfdemo_layer", "2.5")
    good = create_flow_run(deploy(project, env={"EXTRA_PIP_PACKAGES": str(wheel)}),
                           {"mode": "layer"})
    work()
    assert get_flow_run(good.id).state == "COMPLETED", messages(good.id)
    assert "layer version 2.5" in messages(good.id)
    install = next(e for e in read_events(good.id) if e.phase == "install")
    assert install.details["packages"] == [str(wheel)] and install.details["cached"] is False

    bad = create_flow_run(deploy(project, env={"EXTRA_PIP_PACKAGES": str(tmp_path / "x.whl")}))
    work()
    failed = get_flow_run(bad.id)
    assert failed.state == "FAILED"
    assert failed.state_message.startswith("install failed: installing the run's packages")
    assert "x.whl" in failed.state_message


def _alive(pid: str) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


@pytest.mark.slow
def test_kill_9_worker_stops_its_run_and_the_run_is_crashed(stowflow_database, project):
    run = create_flow_run(deploy(project), {"mode": "sleep"})
    worker = subprocess.Popen(
        [sys.executable, "-m", "stowflow", "worker", "start", "--pool", "pool",
         "--heartbeat-interval", "0.2", "--poll-interval", "0.1"],
        env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "Hello World!" not in messages(run.id):
            assert time.monotonic() < deadline, messages(run.id)
            assert worker.poll() is None, worker.stdout.read().decode()
            time.sleep(0.1)
        child_pids = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True,
                                    text=True, check=False).stdout.split()
        assert child_pids, "the run subprocess should be a child of the worker"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in child_pids):
            assert time.monotonic() < deadline, "the orphaned run kept running"
            time.sleep(0.1)
        time.sleep(1.2)
        assert reap_crashed_runs(1.0, pool="pool") == [run.id]
        assert get_flow_run(run.id).state == "CRASHED"
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)


def test_fork_server_forks_each_run_unless_env_needs_a_fresh_interpreter(
        stowflow_database, project):
    """Runs are forked from the worker's fork server, each in a process of its own: what
    one run changes (a module attribute, its job env) is not seen by the next, and the
    server itself keeps no run's environment. A job env with a start-up-only variable
    gets a fresh interpreter."""
    from stowflow.workers.claim import claim_runs
    from stowflow.workers.runner import (
        ForkedRun,
        RunProcess,
        SubprocessLauncher,
        needs_fresh_interpreter,
    )

    assert needs_fresh_interpreter({"PYTHONHASHSEED": "0"})
    assert needs_fresh_interpreter({"LD_LIBRARY_PATH": "/x"})
    assert not needs_fresh_interpreter({"PYTHONPATH": "/x", "EXTRA_PIP_PACKAGES": "a"})

    launcher = SubprocessLauncher()
    try:
        launcher.warm()
        server = launcher._server
        assert server is not None and server.alive()
        seen = []
        for name, env in (("one", {"SF_MARK": "one"}), ("two", {})):
            run = create_flow_run(deploy(project, env=env), {"name": name, "mode": "state"})
            (claimed,) = claim_runs("w", 1, pool="pool")
            handle = launcher.launch(claimed, "w")
            assert isinstance(handle, ForkedRun)
            assert handle.wait(timeout=120) == 0
            handle.cleanup()
            assert get_flow_run(run.id).state == "COMPLETED"
            assert f"Hello {name}!" in messages(run.id)
            seen += [m for m in messages(run.id) if m.startswith("ppid=")]
        pid = server.process.pid
        assert seen == [f"ppid={pid} seen=False mark=one", f"ppid={pid} seen=False mark=None"]
        assert launcher._server is server  # one server for both runs

        fresh_run = create_flow_run(deploy(project, env={"PYTHONHASHSEED": "0"}),
                                    {"mode": "state"})
        (claimed,) = claim_runs("w", 1, pool="pool")
        handle = launcher.launch(claimed, "w")
        assert isinstance(handle, RunProcess)
        assert handle.wait(timeout=120) == 0
        handle.cleanup()
        assert get_flow_run(fresh_run.id).state == "COMPLETED"
        assert f"ppid={os.getpid()} seen=False mark=None" in messages(fresh_run.id)
    finally:
        launcher.close()
    assert server.process.poll() is not None
    assert not list((run_dir("x").parent).glob(".fork-server-*"))


def test_a_fork_server_slow_to_answer_is_retired_without_a_second_process_for_the_run(
        stowflow_database, project, monkeypatch):
    """A fork request not answered in time (a server still warming up on a loaded machine)
    used to fall back to a fresh interpreter while the server still forked its child: two
    processes raced for one run and the loser's 'cannot become RUNNING' crashed it. Now the
    slow server is retired, its answer is awaited and becomes the run; the next run gets a
    new server."""
    from stowflow.runs import read_states
    from stowflow.workers import forkserver
    from stowflow.workers.claim import claim_runs
    from stowflow.workers.runner import ForkedRun, SubprocessLauncher

    monkeypatch.setattr(forkserver, "ANSWER_WAIT_S", 0.0)  # no server answers in no time
    launcher = SubprocessLauncher()
    try:
        launcher.warm()
        slow = launcher._server
        assert slow is not None
        run = create_flow_run(deploy(project), {"name": "once", "mode": "state"})
        (claimed,) = claim_runs("w", 1, pool="pool")
        handle = launcher.launch(claimed, "w")
        assert isinstance(handle, ForkedRun) and handle.server is slow
        assert handle.wait(timeout=120) == 0
        handle.cleanup()
        assert get_flow_run(run.id).state == "COMPLETED"
        assert [s.state for s in read_states(run.id)].count("RUNNING") == 1
        assert messages(run.id).count("Hello once!") == 1
        assert launcher._server is None  # retired; it exits once its child has
        slow.process.wait(timeout=30)
        launcher.warm()
        assert launcher._server is not None and launcher._server is not slow
    finally:
        launcher.close()


def _start_cli_worker() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "stowflow", "worker", "start", "--pool", "pool",
         "--heartbeat-interval", "0.2", "--poll-interval", "0.1"],
        env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_for_hello(run_id: str, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while "Hello World!" not in messages(run_id):
        assert time.monotonic() < deadline, messages(run_id)
        assert worker.poll() is None, worker.stdout.read().decode()
        time.sleep(0.1)


@pytest.mark.slow
def test_ctrl_c_lets_runs_finish_and_twice_cancels_them(project):
    napping = create_flow_run(deploy(project), {"mode": "nap"})
    worker = _start_cli_worker()
    try:
        _wait_for_hello(napping.id, worker)
        worker.send_signal(signal.SIGINT)
        output, _ = worker.communicate(timeout=90)
        assert worker.returncode == 0, output.decode()
        assert get_flow_run(napping.id).state == "COMPLETED"
        assert "woke up" in messages(napping.id)
        assert "stopped after 1 run(s)" in output.decode()

        sleeping = create_flow_run(deploy(project), {"mode": "sleep"})
        worker = _start_cli_worker()
        _wait_for_hello(sleeping.id, worker)
        worker.send_signal(signal.SIGINT)
        time.sleep(0.5)
        worker.send_signal(signal.SIGINT)
        output, _ = worker.communicate(timeout=90)
        assert worker.returncode == 0, output.decode()
        cancelled = get_flow_run(sleeping.id)
        assert cancelled.state == "CANCELLED"
        assert cancelled.state_message == "cancelled: the worker was stopped"
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)


def test_job_env_is_pool_defaults_overlaid_by_the_deployment():
    from stowflow.workers.pools import get_pool, job_env

    create_pool("envpool", env={"A": "pool", "B": "pool", "EXTRA_PIP_PACKAGES": "x"})
    pool = get_pool("envpool")
    assert job_env(pool, {"env": {"B": "dep", "C": 3, "EXTRA_PIP_PACKAGES": None}}) == {
        "A": "pool", "B": "dep", "C": "3"}
    assert job_env(None, None) == {}


def test_worker_survives_a_database_error_and_carries_on(project, monkeypatch):
    from sqlalchemy.exc import OperationalError
    from stowflow.workers import worker as worker_module

    run = create_flow_run(deploy(project), {"name": "again"})
    real_claim = worker_module.claim_runs
    calls = []

    def flaky_claim(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(worker_module, "claim_runs", flaky_claim)
    worker = Worker("pool", poll_interval=0.1, heartbeat_interval=0.2)
    worker.start(exit_when_idle=True, install_signal_handlers=False)
    assert len(calls) >= 2
    assert get_flow_run(run.id).state == "COMPLETED"


def test_async_flow_is_awaited(project):
    dep = upsert_deployment(
        name="async", flow_name="hello-async", entrypoint="flows/hello.py:hello_async",
        work_pool_name="pool", pull_steps=[{"stowflow.deployments.steps.set_working_directory":
                                            {"directory": str(project)}}])
    create_pool("pool", exist_ok=True)
    Secret(value=TOKEN).save("tok", overwrite=True)
    run = create_flow_run(dep, {"name": "Ada"})
    work()
    assert get_flow_run(run.id).state == "COMPLETED", messages(run.id)
    assert "async hello Ada" in messages(run.id)


PLUGIN_INIT = '''
import os

from pydantic import Field, SecretStr

from stowflow.blocks import Block


class DemoCreds(Block):
    __block_type_name__ = "Demo Creds"
    token: SecretStr = Field(description="A token.")


def pull_demo(directory: str, creds: dict) -> dict:
    os.chdir(directory)
    print("plugin pull with " + creds["token"])
    return {"directory": directory, "version": "demo-1"}
'''

PLUGIN_HOOKS = '''
from stowflow import hookimpl


@hookimpl
def stowflow_register_block_types(register):
    from sfdemo_plugin import DemoCreds

    register(DemoCreds)
'''


@pytest.mark.slow
def test_a_plugin_from_extra_pip_packages_serves_blocks_and_steps(project, tmp_path,
                                                                   monkeypatch):
    """The worker lacks the plugin: the run installs it as a layer, then loads its block
    type and its pull step (as with EXTRA_PIP_PACKAGES=stowflow-aws)."""
    from pydantic import Field, SecretStr
    from stowflow.blocks import Block

    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    wheel = build_wheel(tmp_path, "sfdemo_plugin", "0.1", body=PLUGIN_INIT,
                        extra={"sfdemo_plugin/plugin.py": PLUGIN_HOOKS},
                        entry_points="[stowflow]\nsfdemo = sfdemo_plugin.plugin\n")

    # The class below registers itself by slug; undo that after the test, or a later test
    # defining its own 'Demo Creds' (tests/steps/test_templating.py) gets this one.
    from stowflow.blocks.core import DEFINED_BLOCK_TYPES

    monkeypatch.setitem(DEFINED_BLOCK_TYPES, "demo-creds", None)

    class DemoCreds(Block):  # the deploying side has the plugin; the worker does not
        __block_type_name__ = "Demo Creds"
        token: SecretStr = Field(description="A token.")

    DemoCreds(token=TOKEN).save("d1")
    create_pool("pool", exist_ok=True)
    Secret(value="unused-but-saved").save("tok", overwrite=True)
    dep = upsert_deployment(
        name="plugin", flow_name="hello", entrypoint="flows/hello.py:hello",
        work_pool_name="pool", job_variables={"env": {"EXTRA_PIP_PACKAGES": str(wheel)}},
        pull_steps=[{"sfdemo_plugin.pull_demo": {
            "directory": str(project), "creds": "{{ stowflow.blocks.demo-creds.d1 }}"}}])
    run = create_flow_run(dep, {"name": "plugged"})
    subprocess.run([sys.executable, "-m", "stowflow", "worker", "start", "--pool", "pool",
                    "--run-once", "--poll-interval", "0.1"], env=os.environ.copy(),
                   check=True, timeout=180, capture_output=True)
    done = get_flow_run(run.id)
    lines = messages(run.id)
    assert done.state == "COMPLETED", (done.state_message, lines)
    assert done.code_version == "demo-1"
    assert "plugin pull with ***" in lines and "Hello plugged!" in lines
    assert_no_secret(TOKEN, lines)
    assert [e.details.get("blocks") for e in read_events(run.id) if e.phase == "auth"] == [
        ["demo-creds/d1"]]


@pytest.mark.slow
def test_step_requires_go_into_the_run_layer_not_the_worker(project, tmp_path, monkeypatch):
    import importlib.metadata

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build_wheel(wheels, "sfdemo_req", "1.3", body=(
        "import os\n\ndef pull(directory):\n    os.chdir(directory)\n"
        "    return {'directory': directory, 'version': 'req-1.3'}\n"))
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("UV_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    create_pool("pool", exist_ok=True)
    Secret(value=TOKEN).save("tok", overwrite=True)
    dep = upsert_deployment(
        name="req", flow_name="hello", entrypoint="flows/hello.py:hello", work_pool_name="pool",
        pull_steps=[{"sfdemo_req.pull": {"requires": "sfdemo-req>=1.2",
                                         "directory": str(project)}}])
    run = create_flow_run(dep, {"name": "req"})
    work()
    done = get_flow_run(run.id)
    assert done.state == "COMPLETED", (done.state_message, messages(run.id))
    assert done.code_version == "req-1.3"
    install = next(e for e in read_events(run.id) if e.phase == "install")
    assert install.status == "ok" and install.details["requires"] == ["sfdemo-req>=1.2"]
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("sfdemo-req")  # the worker's environment is untouched
