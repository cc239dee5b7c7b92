"""The run-side CLI: work-pool, deployment, flow-run and worker commands."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from stowflow.cli.app import main
from stowflow.deployments.records import upsert_deployment
from stowflow.runs import State, create_flow_run, get_flow_run, list_flow_runs, set_state
from stowflow.workers.pools import create_pool, get_pool
from stowflow.workers.worker import Worker

FLOW = '''
from stowflow import flow

@flow
def greet(who: str, times: int = 1):
    for _ in range(times):
        print(f"hi {who}")
'''


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    """Tables fit in 200 columns, so ids and states are not folded in the assertions."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def deployment(tmp_path: Path) -> str:
    (tmp_path / "greet.py").write_text(FLOW)
    create_pool("pool", exist_ok=True)
    upsert_deployment(
        name="dep", flow_name="greet", entrypoint="greet.py:greet", work_pool_name="pool",
        parameter_schema={"type": "object", "required": ["who"],
                          "properties": {"who": {"type": "string"},
                                         "times": {"type": "integer"}}},
        pull_steps=[{"stowflow.deployments.steps.set_working_directory":
                     {"directory": str(tmp_path)}}])
    return "greet/dep"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_work_pool_lifecycle(capsys):
    code, out, _ = run_cli(capsys, "work-pool", "create", "p1", "--type", "process",
                           "--env", "EXTRA_PIP_PACKAGES=requests", "--concurrency-limit", "2")
    assert code == 0 and "Created work pool p1" in out
    assert get_pool("p1").base_job_template == {"env": {"EXTRA_PIP_PACKAGES": "requests"}}
    code, _, err = run_cli(capsys, "work-pool", "create", "p1")
    assert code == 1 and "already exists" in err
    code, _, err = run_cli(capsys, "work-pool", "create", "p2", "--type", "kubernetes")
    assert code == 1 and "unknown work pool type 'kubernetes'" in err
    code, out, _ = run_cli(capsys, "work-pool", "ls")
    assert code == 0 and "p1" in out and "process" in out
    code, out, _ = run_cli(capsys, "work-pool", "inspect", "p1")
    assert code == 0 and '"EXTRA_PIP_PACKAGES": "requests"' in out and '"default"' in out
    assert run_cli(capsys, "work-pool", "delete", "p1")[0] == 0
    code, _, err = run_cli(capsys, "work-pool", "inspect", "p1")
    assert code == 1 and "no work pool 'p1'" in err


def test_pool_with_runs_in_flight_cannot_be_deleted(capsys, deployment):
    run = create_flow_run(deployment, {"who": "x"})
    set_state(run.id, State.PENDING)
    code, _, err = run_cli(capsys, "work-pool", "delete", "pool")
    assert code == 1 and "1 run(s) in progress" in err


def test_deployment_ls_inspect_delete(capsys, deployment):
    code, out, _ = run_cli(capsys, "deployment", "ls")
    assert code == 0 and "greet/dep" in out and "greet.py:greet" in out
    code, out, _ = run_cli(capsys, "deployment", "inspect", "dep")
    assert code == 0 and "set_working_directory" in out
    assert run_cli(capsys, "deployment", "delete", deployment)[0] == 0
    code, _, err = run_cli(capsys, "deployment", "inspect", deployment)
    assert code == 1 and "no deployment 'greet/dep'" in err


def test_deployment_inspect_masks_a_literal_token_in_its_pull_steps(capsys, tmp_path):
    upsert_deployment(name="lit", flow_name="greet", entrypoint="greet.py:greet",
                      pull_steps=[{"stowflow.deployments.steps.git_clone": {
                          "repository": "https://github.com/o/r.git",
                          "access_token": "ghp_literalInspectToken42"}}],
                      job_variables={"env": {"API_TOKEN": "literal-env-token-42"}})
    code, out, _ = run_cli(capsys, "deployment", "inspect", "greet/lit")
    assert code == 0 and "https://github.com/o/r.git" in out
    assert "ghp_literalInspectToken42" not in out and "literal-env-token-42" not in out
    assert out.count('"********"') == 2


def test_deployment_run_validates_params(capsys, deployment):
    code, _, err = run_cli(capsys, "deployment", "run", deployment, "--param", "times=x",
                           "--param", "who=me")
    assert code == 1 and "times: 'x' is not of type 'integer'" in err
    code, _, err = run_cli(capsys, "deployment", "run", deployment)
    assert code == 1 and "'who' is a required property" in err
    assert list_flow_runs() == []
    code, out, _ = run_cli(capsys, "deployment", "run", deployment, "--param", "who=007")
    assert code == 0 and "Created flow run" in out
    (run,) = list_flow_runs()
    assert run.parameters == {"who": "007"} and run.state == "SCHEDULED"


def test_deployment_run_watch_follows_to_the_end(capsys, deployment):
    worker = Worker("pool", poll_interval=0.1, heartbeat_interval=0.5)
    thread = threading.Thread(target=worker.start, kwargs={"install_signal_handlers": False})
    thread.start()
    try:
        code, out, _ = run_cli(capsys, "deployment", "run", deployment, "-p", "who=Ada",
                               "-p", "times=2", "--watch", "--timeout", "120")
    finally:
        worker.stop()
        thread.join(timeout=60)
    assert code == 0, out
    assert out.count("hi Ada") == 2
    assert "is COMPLETED" in out and "transfer" in out


def test_flow_run_commands(capsys, deployment):
    run = create_flow_run(deployment, {"who": "Bo"})
    code, out, _ = run_cli(capsys, "flow-run", "ls")
    assert code == 0 and run.id in out and "SCHEDULED" in out
    assert run_cli(capsys, "worker", "start", "--pool", "pool", "--run-once",
                   "--poll-interval", "0.1")[0] == 0
    assert get_flow_run(run.id).state == "COMPLETED"
    code, out, _ = run_cli(capsys, "flow-run", "inspect", run.id[:8])
    assert code == 0 and '"state": "COMPLETED"' in out
    for phase in ("resolve", "install", "auth", "transfer", "import", "run"):
        assert phase in out
    code, out, _ = run_cli(capsys, "flow-run", "logs", run.id)
    assert code == 0 and "hi Bo" in out
    code, out, _ = run_cli(capsys, "flow-run", "logs", run.id, "-f")
    assert code == 0 and "hi Bo" in out
    code, _, err = run_cli(capsys, "flow-run", "cancel", run.id)
    assert code == 1 and "already finished (COMPLETED)" in err
    waiting = create_flow_run(deployment, {"who": "later"})
    code, out, _ = run_cli(capsys, "flow-run", "cancel", waiting.id)
    assert code == 0 and "Cancelled flow run" in out
    code, out, _ = run_cli(capsys, "flow-run", "ls", "--state", "cancelled")
    assert waiting.id in out and run.id not in out


SLOW_FLOW = '''
import time
from stowflow import flow

@flow
def slow():
    for i in range(6):
        print(f"tick {i}", flush=True)
        time.sleep(0.5)
'''


def test_flow_run_logs_follow_follows_a_running_run(capsys, tmp_path: Path):
    (tmp_path / "slow.py").write_text(SLOW_FLOW)
    create_pool("pool", exist_ok=True)
    upsert_deployment(name="slow", flow_name="slow", entrypoint="slow.py:slow",
                      work_pool_name="pool", pull_steps=[{
                          "stowflow.deployments.steps.set_working_directory":
                          {"directory": str(tmp_path)}}])
    run = create_flow_run("slow/slow")
    worker = Worker("pool", poll_interval=0.1, heartbeat_interval=0.5)
    thread = threading.Thread(target=worker.start, kwargs={"install_signal_handlers": False})
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while get_flow_run(run.id).state != "RUNNING":
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        code, out, _ = run_cli(capsys, "flow-run", "logs", run.id, "--follow")
    finally:
        worker.stop()
        thread.join(timeout=60)
    assert code == 0
    assert [f"tick {i}" in out for i in range(6)] == [True] * 6  # it waited for the end
    assert get_flow_run(run.id).state == "COMPLETED"


def test_flow_run_inspect_masks_a_secret_parameter(capsys, tmp_path):
    # A parameter the flow types SecretStr (writeOnly / format password) is stored for the
    # run but shown masked, as on the run page and in the API; the others as given.
    from stowflow.testing import assert_no_secret

    schema = {"type": "object", "properties": {
        "api_key": {"anyOf": [{"type": "string", "format": "password", "writeOnly": True},
                              {"type": "null"}]},
        "n": {"type": "integer"}}}
    upsert_deployment(name="secret", flow_name="greet", entrypoint="greet.py:greet",
                      parameter_schema=schema)
    run = create_flow_run("greet/secret", {"api_key": "planted-inspect-secret", "n": 3})
    code, out, err = run_cli(capsys, "flow-run", "inspect", run.id)
    assert code == 0, err
    assert_no_secret("planted-inspect-secret", out, err)
    assert '"api_key": "********"' in out and '"n": 3' in out
    assert get_flow_run(run.id).parameters["api_key"] == "planted-inspect-secret"


def test_schedule_views_mask_a_secret_parameter(capsys):
    # A schedule's parameter overrides are shown like the run's and the defaults: the
    # secret ones masked, in deployment inspect and schedule ls (table and --json).
    from stowflow.schedules import ScheduleSpec
    from stowflow.testing import assert_no_secret

    schema = {"type": "object", "properties": {
        "api_key": {"type": "string", "format": "password", "writeOnly": True},
        "n": {"type": "integer"}}}
    upsert_deployment(name="sched-secret", flow_name="greet", entrypoint="greet.py:greet",
                      parameter_schema=schema,
                      schedules=[ScheduleSpec(interval=3600, parameters={
                          "api_key": "planted-schedule-secret", "n": 2})])
    outputs = []
    for args in (("deployment", "inspect", "greet/sched-secret"),
                 ("deployment", "schedule", "ls", "greet/sched-secret"),
                 ("deployment", "schedule", "ls", "greet/sched-secret", "--json")):
        code, out, err = run_cli(capsys, *args)
        assert code == 0, err
        outputs += [out, err]
        assert '"api_key": "********"' in out and '"n": 2' in out
    assert_no_secret("planted-schedule-secret", *outputs)
