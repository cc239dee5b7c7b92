"""A command that ends with typer.Exit(code) exits with that code (it exited 0: Click returns
the code instead of raising when not in standalone mode, and main() dropped it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from stowflow.cli.app import main
from stowflow.db import WorkPoolRecord, session

FLOW = "from stowflow import flow\n\n@flow\ndef etl(n: int = 1):\n    return n\n"


@pytest.fixture
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> str:
    root = tmp_path / "proj"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text(FLOW)
    (root / "stowflow.yaml").write_text(
        "deployments:\n- {name: a, entrypoint: flows/etl.py:etl, work_pool: {name: p}}\n")
    monkeypatch.chdir(root)
    with session() as db:
        db.add(WorkPoolRecord(name="p"))
    assert main(["deploy"]) == 0, capsys.readouterr().err
    return "etl/a"


def test_watch_that_ends_before_the_run_is_not_success(deployed: str, capsys) -> None:
    # no worker: the run stays SCHEDULED, so --watch must not report success
    assert main(["deployment", "run", deployed, "--watch", "--timeout", "0.2"]) == 1
    assert "is SCHEDULED" in capsys.readouterr().out


def test_the_process_exit_code_too(deployed: str, stowflow_home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stowflow.cli", "deployment", "run", deployed, "--watch",
         "--timeout", "0.2"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "STOWFLOW_HOME": str(stowflow_home)})
    assert result.returncode == 1, result.stdout + result.stderr


def test_success_is_still_zero(deployed: str) -> None:
    assert main(["deployment", "ls"]) == 0
    assert main(["--help"]) == 0
