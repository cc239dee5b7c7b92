"""``stowflow quickstart`` on a fresh STOWFLOW_HOME: the whole loop, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from stowflow.runs import list_flow_runs, read_events


@pytest.mark.slow
def test_quickstart_on_a_fresh_home(stowflow_home, tmp_path):
    assert not (stowflow_home / "stowflow.db").exists()
    result = subprocess.run(
        [sys.executable, "-m", "stowflow", "quickstart", "--project", str(tmp_path / "qs")],
        env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True, timeout=180,
        cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "is COMPLETED" in out
    for i in (1, 2, 3):
        assert f"Hello stowflow! ({i}/3)" in out
    for phase in ("resolve", "install", "auth", "transfer", "import", "run"):
        assert phase in out
    assert (tmp_path / "qs" / "flows" / "hello.py").exists()
    # and it really went through the database a worker uses
    (run,) = list_flow_runs()
    assert run.state == "COMPLETED" and run.work_pool_name == "quickstart-pool"
    transfer = next(e for e in read_events(run.id) if e.phase == "transfer")
    assert transfer.details["directory"] == str(tmp_path / "qs")


def test_quickstart_twice_reuses_pool_and_deployment(stowflow_home, tmp_path, capsys):
    from stowflow.cli.app import main

    assert main(["quickstart", "--project", str(tmp_path / "a")]) == 0
    assert main(["quickstart", "--name", "again", "--project", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "Hello again! (3/3)" in out
    assert [r.state for r in list_flow_runs()] == ["COMPLETED", "COMPLETED"]
