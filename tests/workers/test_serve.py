"""``flow.serve``: deploy without a pool and run the deployment's runs from that process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stowflow.errors import NotFoundError
from stowflow.runs import create_flow_run, find_deployment, get_flow_run, read_logs

SCRIPT = '''
import sys

from stowflow import flow
from stowflow.flows import Flow


@flow
def served(x: int = 1):
    print(f"served x={x}")


if __name__ == "__main__":
    if sys.argv[1] == "local":
        served.serve("local", poll_interval=0.1)
    else:
        Flow.from_source(source=sys.argv[2], entrypoint="served_flow.py:served").serve(
            "remote", poll_interval=0.1)
'''


def _wait(predicate, what: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early: {proc.stdout.read().decode()}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _deployment_exists(ref: str) -> bool:
    try:
        find_deployment(ref)
    except NotFoundError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["local", "from_source"])
def test_serve_runs_its_runs_and_stops_on_ctrl_c(stowflow_database, tmp_path: Path, mode):
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "served_flow.py").write_text(SCRIPT)
    name = "local" if mode == "local" else "remote"
    proc = subprocess.Popen([sys.executable, "served_flow.py", mode, str(code_dir)],
                            cwd=code_dir, env=os.environ.copy(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        _wait(lambda: _deployment_exists(f"served/{name}"), "the deployment", proc)
        deployment = find_deployment(f"served/{name}")
        assert deployment.work_pool_name is None
        (step,) = deployment.pull_steps
        assert step == {"stowflow.deployments.steps.set_working_directory":
                        {"directory": str(code_dir)}}
        assert deployment.entrypoint == "served_flow.py:served"
        run = create_flow_run(deployment, {"x": 5})
        _wait(lambda: get_flow_run(run.id).state == "COMPLETED", "the run", proc)
        assert "served x=5" in [line.message for line in read_logs(run.id)]
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, output.decode()
        text = output.decode()
        assert f"stowflow deployment run 'served/{name}'" in text
        assert "Traceback" not in text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
