"""flow-run retry: a rerun of a finished run on the exact code version it ran (git commit,
object-store version), or on the deployment's latest code; LATE runs in flow-run ls."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from stowflow.cli.app import main
from stowflow.deployments.registry import upsert_deployment
from stowflow.errors import RunError
from stowflow.runs import (
    create_flow_run,
    find_deployment,
    get_flow_run,
    list_flow_runs,
    read_logs,
    shown_state,
)
from stowflow.runs.retry import pin_pull_steps, retry_flow_run
from stowflow.workers.pools import create_pool
from stowflow.workers.worker import Worker

FLOW = '''
from stowflow import flow

VERSION = "{version}"


@flow
def etl(n: int = 0):
    print(f"code version {{VERSION}} n={{n}}")
'''


def _work() -> None:
    Worker("pool", poll_interval=0.1).start(run_once=True, install_signal_handlers=False)


def _logs(run_id: str) -> str:
    return "\n".join(line.message for line in read_logs(run_id))


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_retry_runs_the_exact_commit_and_latest_code_runs_the_new_one(
        stowflow_database, git_remote, capsys):
    repo = git_remote.create_repo(files={"flows/etl.py": FLOW.format(version="one")})
    create_pool("pool")
    dep = find_deployment(upsert_deployment(
        name="git", flow_name="etl", entrypoint="flows/etl.py:etl", work_pool_name="pool",
        pull_steps=[{"stowflow.deployments.steps.git_clone": {"repository": repo.url,
                                                             "branch": "main"}}]))
    first = create_flow_run(dep, {"n": 7})
    _work()
    done = get_flow_run(first.id)
    assert done.state == "COMPLETED" and "code version one n=7" in _logs(first.id)
    old_sha = done.code_version
    new_sha = repo.commit({"flows/etl.py": FLOW.format(version="two")}, "second")

    code, out, err = run_cli(capsys, "flow-run", "retry", first.id[:8])
    assert code == 0 and f"code {old_sha}" in out, err
    exact = next(r for r in list_flow_runs() if r.retry_of == first.id)
    assert (exact.pinned_code_version, exact.parameters) == (old_sha, {"n": 7})
    _work()
    exact = get_flow_run(exact.id)
    assert exact.state == "COMPLETED" and exact.code_version == old_sha
    assert "code version one n=7" in _logs(exact.id)

    latest = retry_flow_run(first.id, latest_code=True)
    assert latest.pinned_code_version is None and latest.retry_of == first.id
    _work()
    latest = get_flow_run(latest.id)
    assert latest.code_version == new_sha and "code version two n=7" in _logs(latest.id)


def test_retry_pins_an_object_store_version(stowflow_database, tmp_path: Path):
    from stowflow.steps.remote_storage_steps import push_to_remote_storage

    source, store = tmp_path / "src", tmp_path / "store"
    (source / "flows").mkdir(parents=True)
    store.mkdir()
    url = f"file://{store}/code"
    (source / "flows" / "etl.py").write_text(FLOW.format(version="one"))
    import contextlib

    with contextlib.chdir(source):
        first_version = push_to_remote_storage(url)["version"]
    create_pool("pool")
    dep = find_deployment(upsert_deployment(
        name="obj", flow_name="etl", entrypoint="flows/etl.py:etl", work_pool_name="pool",
        pull_steps=[{"stowflow.deployments.steps.pull_from_remote_storage": {"url": url}}]))
    first = create_flow_run(dep)
    _work()
    assert get_flow_run(first.id).code_version == first_version
    (source / "flows" / "etl.py").write_text(FLOW.format(version="two"))
    with contextlib.chdir(source):
        assert push_to_remote_storage(url)["version"] != first_version
    again = retry_flow_run(first.id)
    _work()
    again = get_flow_run(again.id)
    assert again.state == "COMPLETED", _logs(again.id)
    assert again.code_version == first_version and "code version one" in _logs(again.id)


def test_retry_refuses_what_it_cannot_honour(stowflow_database, make_deployment, capsys):
    from stowflow.runs import State, set_state

    create_pool("pool")
    dep = make_deployment(pull_steps=[{"stowflow.deployments.steps.set_working_directory":
                                       {"directory": "/tmp"}}])
    run = create_flow_run(dep)
    with pytest.raises(RunError, match="only a finished run"):
        retry_flow_run(run.id)
    set_state(run.id, State.CANCELLED)
    with pytest.raises(RunError, match="recorded no code version"):
        retry_flow_run(run.id)
    code, _, err = run_cli(capsys, "flow-run", "retry", run.id)
    assert code == 1 and "--latest-code" in err and "Traceback" not in err
    assert retry_flow_run(run.id, latest_code=True).retry_of == run.id
    with pytest.raises(RunError, match="can be pinned"):
        pin_pull_steps([{"stowflow.deployments.steps.set_working_directory":
                         {"directory": "/tmp"}}], "abc")
    pinned = pin_pull_steps([{"stowflow.deployments.steps.git_clone": {"repository": "x"}},
                             {"stowflow.deployments.steps.run_shell_script": {"script": "ls"}}],
                            "abc123")
    assert pinned[0]["stowflow.deployments.steps.git_clone"]["commit_sha"] == "abc123"
    assert pin_pull_steps([{"stowflow_aws.deployments.steps.pull_from_s3":
                            {"bucket": "b", "folder": "f"}}], "v1")[0][
        "stowflow_aws.deployments.steps.pull_from_s3"]["version"] == "v1"


def test_late_is_derived_for_scheduled_runs_past_their_time(stowflow_database, make_deployment,
                                                           capsys, monkeypatch):
    from stowflow.db import utcnow

    monkeypatch.setenv("COLUMNS", "250")
    create_pool("pool")
    dep = make_deployment()
    late = create_flow_run(dep, scheduled_at=utcnow() - timedelta(minutes=5))
    due = create_flow_run(dep, scheduled_at=utcnow())
    future = create_flow_run(dep, scheduled_at=utcnow() + timedelta(hours=1))
    assert [shown_state(r) for r in (late, due, future)] == ["LATE", "SCHEDULED", "SCHEDULED"]
    assert get_flow_run(late.id).state == "SCHEDULED"  # stored as it was
    assert [r.id for r in list_flow_runs(state="late")] == [late.id]
    code, out, _ = run_cli(capsys, "flow-run", "ls")
    def row(run_id: str) -> str:
        return next(line for line in out.splitlines() if run_id in line)

    assert "LATE" in row(late.id) and "LATE" not in row(future.id) + row(due.id)
    code, out, _ = run_cli(capsys, "flow-run", "ls", "--state", "LATE")
    assert late.id in out and future.id not in out
    code, _, err = run_cli(capsys, "flow-run", "ls", "--state", "sleepy")
    assert code == 1 and "LATE" in err
