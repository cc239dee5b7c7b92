"""Deployments and flow runs in a real browser, with a real worker: start a run from the
parameter form (server-side validation beside the fields), watch its logs arrive live and
its state reach COMPLETED, see the code version and the phase chart, cancel a long run,
hostile names. Every response and the server log are grepped for the planted secret."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from stowflow.blocks import Secret
from stowflow.deployments.records import upsert_deployment
from stowflow.flows.metadata import read_flow_metadata
from stowflow.runs import get_flow_run, list_flow_runs
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.web import StowflowServer
from stowflow.workers.pools import create_pool

PLANTED = "planted-run-secret-71b3c9"
HOSTILE = "<script>alert(1)</script>"
FLOW = textwrap.dedent('''
    import time
    from typing import Literal

    from stowflow import flow
    from stowflow.blocks import Secret


    @flow(log_prints=True)
    def greet(name: str, times: int = 2, mode: Literal["quick", "slow"] = "quick"):
        """Say hello a few times."""
        token = Secret.load("run-token").get()
        print("token is " + token)
        for i in range(times):
            print(f"hello {name} #{i}")
            time.sleep(0.3)
        if mode == "slow":
            print("sleeping")
            time.sleep(120)
        return name
''')


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding the flow (pulled by the worker through file://)."""
    repo = tmp_path_factory.mktemp("flow-repo")
    (repo / "flows").mkdir()
    (repo / "flows" / "greet.py").write_text(FLOW)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    for argv in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "flow"]):
        subprocess.run(["git", *argv], cwd=repo, env=env, check=True)
    return repo


@pytest.fixture(scope="module")
def worker(server: StowflowServer) -> Iterator[subprocess.Popen[bytes]]:
    """A real process worker on pool 'ui-pool' over the server's database."""
    log = open(server.home.parent / "worker.log", "wb")  # noqa: SIM115
    env = {**os.environ, "STOWFLOW_HOME": str(server.home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "stowflow", "worker", "start", "--pool", "ui-pool",
         "--poll-interval", "0.3", "--heartbeat-interval", "0.5"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    yield process
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture
def deployment(on_server: StowflowServer, project: Path) -> str:
    create_pool("ui-pool", exist_ok=True)
    Secret(value=PLANTED).save("run-token", overwrite=True)
    meta = read_flow_metadata("flows/greet.py:greet", project)
    return upsert_deployment(
        name="greeter", flow_name=meta.name, entrypoint="flows/greet.py:greet",
        work_pool_name="ui-pool", tags=["ui", HOSTILE],
        parameter_schema=meta.parameters.schema(),
        pull_steps=[{"stowflow.deployments.steps.git_clone": {
            "repository": f"file://{project}", "branch": "main"}}])


def _head(project: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_run_from_the_form_and_watch_it_complete(page, server, deployment, worker, project,
                                                 capture, screenshot) -> None:
    page.goto(f"{server.url}/deployments/{deployment}")
    assert f"file://{project}" in page.inner_text("#deployment-fields")
    assert HOSTILE in page.inner_text("#deployment-fields")  # a tag, shown as text
    page.click("#run-button")
    # generated from the flow's schema: required name, integer times, enum mode
    assert page.get_attribute("#f-times", "type") == "number"
    assert page.input_value("#f-times") == "2"
    modes = page.eval_on_selector_all("#f-mode option", "els => els.map(e => e.value)")
    assert "quick" in modes and "slow" in modes
    page.fill("#f-times", "4")
    page.click("#run-form button[type=submit]")  # validated on the server: name is missing
    assert "required" in page.inner_text("[data-field=name] .field-error")
    assert page.input_value("#f-times") == "4"  # what was typed is kept
    page.fill("#f-name", "Ada")
    page.fill("#f-times", "3")
    page.click("#run-form button[type=submit]")
    page.wait_for_url(f"{server.url}/flow-runs/*")
    # logs arrive while the run goes, and the state follows, without a reload
    page.wait_for_selector("#log-lines >> text=hello Ada #2", timeout=90_000)
    page.wait_for_selector("#run-state.state-COMPLETED", timeout=60_000)
    page.wait_for_selector("#log-poller[data-done=true]", timeout=30_000, state="attached")
    run_id = page.url.rsplit("/", 1)[-1]
    assert get_flow_run(run_id).state == "COMPLETED"
    page.reload()
    assert page.inner_text("#code-version") == _head(project)
    history = page.inner_text("#state-history")
    for state in ("SCHEDULED", "PENDING", "RUNNING", "COMPLETED"):
        assert state in history
    phases = page.eval_on_selector_all("#phase-chart g.bar", "els => els.map(e => e.dataset.phase)")
    for phase in ("resolve", "transfer", "import", "run"):
        assert phase in phases
    assert '"name": "Ada"' in page.inner_text("#run-parameters")
    assert "token is ***" in page.inner_text("#log-lines")  # redacted by the run
    screenshot(page, "flow-run")
    page.goto(f"{server.url}/flow-runs?state=COMPLETED&work_pool=ui-pool")
    assert page.locator("#flow-runs tbody tr").count() >= 1
    page.goto(f"{server.url}/deployments")
    screenshot(page, "deployments")
    page.goto(f"{server.url}/work-pools")
    assert "ui-pool" in page.inner_text("main")
    assert page.locator("[data-pool=ui-pool] .workers td").first.inner_text() != \
        "no worker has polled this pool"
    assert_no_secret(PLANTED, *capture.texts, server.log())


def test_cancel_a_long_run_from_its_page(page, server, deployment, worker, capture) -> None:
    page.goto(f"{server.url}/deployments/{deployment}/run")
    page.fill("#f-name", "Long")
    page.select_option("#f-mode", "slow")
    page.click("#run-form button[type=submit]")
    page.wait_for_url(f"{server.url}/flow-runs/*")
    page.wait_for_selector("#log-lines >> text=sleeping", timeout=90_000)
    page.click("#cancel-button")
    page.wait_for_selector("#run-state.state-CANCELLED", timeout=60_000)
    run = list_flow_runs(state="CANCELLED", limit=1)[0]
    assert run.parameters["mode"] == "slow"
    assert_no_secret(PLANTED, *capture.texts, server.log())


def test_logs_page_through_a_large_log(page, server, on_server, deployment, capture) -> None:
    from stowflow.runs import create_flow_run, write_logs

    run = create_flow_run(deployment, {"name": HOSTILE})
    write_logs(run.id, [("INFO", f"line {i:05d}") for i in range(1000)])
    write_logs(run.id, [("WARNING", HOSTILE)])
    page.goto(f"{server.url}/flow-runs/{run.id}")
    text = page.inner_text("#log-lines")
    assert HOSTILE in text and "line 00999" in text and "line 00700" not in text
    page.click("#older-logs")
    older = page.inner_text("#log-lines")
    assert "line 00700" in older and "line 00999" not in older
    assert page.locator("#log-lines script").count() == 0
    page.goto(f"{server.url}/flow-runs?deployment={deployment}")
    assert page.locator("#flow-runs tbody tr").count() >= 1
    page.goto(f"{server.url}/variables")
    page.fill("#v-name", "greeting")
    page.fill("#v-value", '{"to": "<b>you</b>"}')
    page.click("#variable-form button[type=submit]")
    page.wait_for_url(f"{server.url}/variables")
    assert '"<b>you</b>"' in page.inner_text("#variables")
    assert_no_secret(PLANTED, *capture.texts, server.log())
