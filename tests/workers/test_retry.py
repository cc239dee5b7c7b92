"""flow-run retry: a rerun of a finished run on the exact code version it ran (git commit,
object-store version), or on the deployment's latest code; LATE runs in flow-run ls."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from stowflow.cli.app import main
from stowflow.deployments.records import upsert_deployment
from stowflow.errors import RunError
from stowflow.runs import (
    create_flow_run,
    find_deployment,
    get_flow_run,
    list_flow_runs,
    read_logs,
    read_states,
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
    # A retry's history begins SCHEDULED like any run's (before, a retry had none stored).
    assert [s.state for s in read_states(exact.id)] == [
        "SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]
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


def test_retry_pins_the_version_an_object_store_block_pulled(
        stowflow_database, s3_server, s3_bucket, tmp_path: Path):
    # Fails on the old code: pull_with_block took no version, so the retry was refused.
    from pydantic import SecretStr
    from stowflow_aws import AwsCredentials, S3Bucket
    from stowflow_aws.credentials import AwsClientParameters

    AwsCredentials(
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=SecretStr(s3_server.secret_access_key),
        region_name=s3_server.region,
        aws_client_parameters=AwsClientParameters(endpoint_url=s3_server.endpoint_url),
    ).save("retry-moto")
    S3Bucket(bucket_name=s3_bucket, credentials=AwsCredentials.load("retry-moto"),
             bucket_folder="retry-proj").save("retry-code")
    source = tmp_path / "src"
    (source / "flows").mkdir(parents=True)
    (source / "flows" / "etl.py").write_text(FLOW.format(version="one"))
    first_version = S3Bucket.load("retry-code").put_directory(source).version
    create_pool("pool")
    dep = find_deployment(upsert_deployment(
        name="blk", flow_name="etl", entrypoint="flows/etl.py:etl", work_pool_name="pool",
        pull_steps=[{"stowflow.deployments.steps.pull_with_block": {
            "block_document_name": "retry-code", "block_type_slug": "s3-bucket"}}]))
    first = create_flow_run(dep)
    _work()
    assert get_flow_run(first.id).code_version == first_version, _logs(first.id)
    (source / "flows" / "etl.py").write_text(FLOW.format(version="two"))
    assert S3Bucket.load("retry-code").put_directory(source).version != first_version
    again = retry_flow_run(first.id)
    _work()
    again = get_flow_run(again.id)
    assert again.state == "COMPLETED", _logs(again.id)
    assert again.code_version == first_version and "code version one" in _logs(again.id)
    latest = retry_flow_run(first.id, latest_code=True)
    _work()
    assert "code version two" in _logs(latest.id)


def test_retry_of_code_without_versions_says_why_it_cannot_be_pinned(
        stowflow_database, make_deployment, tmp_path: Path, capsys):
    from stowflow.errors import StepError
    from stowflow.runs import State, set_state
    from stowflow.steps.block_steps import pull_with_block, takes_version
    from stowflow.storage import StorageBlock

    create_pool("pool")
    dep = make_deployment(pull_steps=[{"stowflow.deployments.steps.set_working_directory":
                                       {"directory": str(tmp_path)}}])
    run = create_flow_run(dep)
    set_state(run.id, State.CANCELLED)
    with pytest.raises(RunError, match=f"local folder \\({tmp_path}\\), which has no versions"):
        retry_flow_run(run.id)

    class FolderBlock(StorageBlock):  # a storage block without versions
        __block_type_name__ = "Retry Unversioned Folder"
        path: str = ""

        def get_directory(self, from_path=None, local_path=None):
            return local_path

    assert not takes_version(FolderBlock)
    FolderBlock(path=str(tmp_path)).save("unversioned")
    with pytest.raises(StepError, match="cannot fetch a given version") as info:
        pull_with_block("unversioned", FolderBlock.get_block_type_slug(), version="v1")
    assert "--latest-code" in str(info.value.hint)
