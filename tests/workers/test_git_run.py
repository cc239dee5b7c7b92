"""A worker pulls a private git repository with a Secret block and runs the flow in it."""

from __future__ import annotations

from stowflow.blocks import Secret
from stowflow.deployments.records import upsert_deployment
from stowflow.runs import create_flow_run, get_flow_run, read_events, read_logs
from stowflow.testing import assert_no_secret
from stowflow.workers.pools import create_pool
from stowflow.workers.runner import SubprocessLauncher, run_dir
from stowflow.workers.worker import Worker

TOKEN = "ghp-test-token-3c1e9d0a77"

FLOW = '''
from stowflow import flow

VERSION = "{version}"


@flow
def etl():
    print("code version " + VERSION)
'''


def test_private_git_deployment_runs_the_commit_it_pulled(stowflow_database, git_remote):
    git_remote.accept({("bot", TOKEN)})
    repo = git_remote.create_repo(files={"flows/etl.py": FLOW.format(version="one")})
    Secret(value=TOKEN).save("gittok")
    create_pool("pool")
    deployment = upsert_deployment(
        name="git", flow_name="etl", entrypoint="flows/etl.py:etl", work_pool_name="pool",
        pull_steps=[{"stowflow.deployments.steps.git_clone": {
            "repository": repo.url,
            "credentials": {"username": "bot",
                            "access_token": "{{ stowflow.blocks.secret.gittok.value }}"}}}])

    first = create_flow_run(deployment)
    launcher = SubprocessLauncher(keep_workspaces=True)
    Worker("pool", poll_interval=0.1, launcher=launcher).start(
        run_once=True, install_signal_handlers=False)
    run = get_flow_run(first.id)
    logs = [line.message for line in read_logs(first.id)]
    assert run.state == "COMPLETED", logs
    assert run.code_version == repo.rev_parse("main")
    assert "code version one" in logs
    events = {e.phase: e for e in read_events(first.id)}
    assert events["auth"].details["blocks"] == ["secret/gittok"]
    assert events["transfer"].details["code_version"] == run.code_version
    assert git_remote.requests_for(repo)[-1].user == "bot"
    # the token is nowhere: not in logs, events, state, nor the checkout's .git/config
    assert_no_secret(TOKEN, logs, repr([e.details for e in events.values()]),
                     run.state_message or "", run_dir(first.id))

    new_sha = repo.commit({"flows/etl.py": FLOW.format(version="two")}, "second")
    second = create_flow_run(deployment)
    Worker("pool", poll_interval=0.1).start(run_once=True, install_signal_handlers=False)
    rerun = get_flow_run(second.id)
    assert rerun.state == "COMPLETED"
    assert rerun.code_version == new_sha != run.code_version
    assert "code version two" in [line.message for line in read_logs(second.id)]
