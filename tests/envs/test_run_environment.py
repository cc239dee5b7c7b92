"""A real worker runs deployments whose pull steps install requirements: into a cached
layer, keyed by the requirements' content, never into the worker's interpreter."""

from __future__ import annotations

import os
import socket
import sysconfig
import textwrap
from pathlib import Path

import pytest
from stowflow.deployments.records import upsert_deployment
from stowflow.envs import layers_root
from stowflow.runs import create_flow_run, get_flow_run, read_events, read_logs
from stowflow.testing import assert_no_secret
from stowflow.testing.packages import build_wheel
from stowflow.workers.pools import create_pool
from stowflow.workers.worker import Worker

FLOW = '''
import time

from stowflow import flow


@flow
def uses_req(nap: float = 0):
    import sfreq_demo
    print("sfreq_demo " + sfreq_demo.VERSION)
    if nap:
        print("napping")
        time.sleep(nap)
'''


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No package index: the runs install local wheel files only."""
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A flow project whose requirements.txt includes base.txt, which names a local wheel."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "flow.py").write_text(textwrap.dedent(FLOW))
    build_wheel(root, "sfreq_demo", "1.0")
    (root / "requirements.txt").write_text("# the flow's requirements\n-r base.txt\n")
    (root / "base.txt").write_text("./sfreq_demo-1.0-py3-none-any.whl\n")
    return root


def deploy(project: Path, requirements_file: str = "requirements.txt") -> str:
    create_pool("pool", exist_ok=True)
    return upsert_deployment(
        name="dep", flow_name="uses-req", entrypoint="flow.py:uses_req", work_pool_name="pool",
        pull_steps=[
            {"stowflow.deployments.steps.set_working_directory": {"directory": str(project)}},
            {"stowflow.deployments.steps.pip_install_requirements": {
                "id": "deps", "requirements_file": requirements_file}}])


def work() -> None:
    Worker("pool", poll_interval=0.1, heartbeat_interval=0.2).start(
        run_once=True, install_signal_handlers=False)


def messages(run_id: str) -> list[str]:
    return [line.message for line in read_logs(run_id)]


def step_install(run_id: str):
    """The install event the pip_install_requirements step recorded."""
    return next(e for e in read_events(run_id) if e.phase == "install"
                and e.details.get("source") == "pip_install_requirements")


def site_packages() -> list[tuple[str, int, int]]:
    """Every file under the worker interpreter's site-packages: path, size, mtime."""
    listing = []
    for key in ("purelib", "platlib"):
        root = sysconfig.get_paths()[key]
        for folder, _dirs, files in os.walk(root):
            for name in files:
                stat = os.lstat(os.path.join(folder, name))
                listing.append((os.path.join(folder, name), stat.st_size, stat.st_mtime_ns))
    return sorted(set(listing))


def test_requirements_go_into_a_cached_layer_and_the_worker_is_untouched(
        stowflow_home: Path, project: Path) -> None:
    """Fails on the old step, which ran 'uv pip install -r' into the worker's interpreter."""
    before = site_packages()
    first = create_flow_run(deploy(project))
    work()
    second = create_flow_run(deploy(project))
    work()
    assert site_packages() == before  # the worker's environment did not change

    for run in (first, second):
        assert get_flow_run(run.id).state == "COMPLETED", messages(run.id)
        assert "sfreq_demo 1.0" in messages(run.id)
    miss, hit = step_install(first.id), step_install(second.id)
    assert miss.status == "ok" and miss.details["cached"] is False
    assert hit.details["cached"] is True and hit.details["key"] == miss.details["key"]
    assert hit.duration_s is not None and hit.duration_s < miss.duration_s
    assert miss.details["inputs"] == ["-r requirements.txt"]
    layer = layers_root() / miss.details["key"]
    assert (layer / "sfreq_demo" / "__init__.py").is_file()
    # the install phase before the pull steps had nothing to do
    assert next(e for e in read_events(first.id) if e.phase == "install").status == "skipped"

    # the included file's content is part of the key: a new wheel there is a new layer
    build_wheel(project, "sfreq_demo", "2.0")
    (project / "base.txt").write_text("./sfreq_demo-2.0-py3-none-any.whl\n")
    third = create_flow_run(deploy(project))
    work()
    assert get_flow_run(third.id).state == "COMPLETED", messages(third.id)
    assert "sfreq_demo 2.0" in messages(third.id)
    changed = step_install(third.id)
    assert changed.details["cached"] is False and changed.details["key"] != miss.details["key"]
    assert site_packages() == before


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_failed_install_fails_the_run_redacted_and_leaves_no_layer(
        stowflow_home: Path, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UV_OFFLINE")
    monkeypatch.delenv("PIP_NO_INDEX")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")  # connection refused: say so at once
    monkeypatch.setenv("PIP_RETRIES", "0")
    token = "req-T0ken-8d1f0c"
    (project / "requirements.txt").write_text(
        f"--index-url http://deploy:{token}@127.0.0.1:{_closed_port()}/simple/\n"
        "sfnothere-pkg==1.0\n")
    run = create_flow_run(deploy(project))
    work()
    failed = get_flow_run(run.id)
    assert failed.state == "FAILED"
    assert failed.state_message.startswith("transfer failed: step 'deps' failed: installing "
                                           "the run's packages (-r requirements.txt) failed:")
    assert "sfnothere-pkg" in failed.state_message  # the installer's own words
    event = step_install(run.id)
    assert event.status == "failed" and event.details["key"]
    assert_no_secret(token, failed.state_message, messages(run.id),
                     [str(e.details) for e in read_events(run.id)], stowflow_home)
    leftovers = [p.name for p in layers_root().iterdir()
                 if not p.name.endswith((".lock", ".lease"))]
    assert leftovers == []
