"""stowflow deploy on the command line: dry run output, errors, and the interactive path in a PTY."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stowflow.cli.app import main
from stowflow.db import WorkPoolRecord, session

FLOW = "from stowflow import flow\n\n@flow\ndef etl(n: int = 1):\n    return n\n"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text(FLOW)
    monkeypatch.chdir(root)
    return root


def test_dry_run_prints_files_size_and_deployments(folder: Path, capsys) -> None:
    (folder / "stowflow.yaml").write_text(
        "push:\n- stowflow.deployments.steps.run_shell_script:\n    script: touch pushed\n"
        "deployments:\n- {name: nightly, entrypoint: flows/etl.py:etl, work_pool: {name: p}}\n")
    (folder / "big.bin").write_bytes(b"\0" * 2048)
    assert main(["deploy", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Dry run" in out and "big.bin" in out and "flows/etl.py" in out
    total = sum(p.stat().st_size for p in (folder / "big.bin", folder / "flows" / "etl.py",
                                           folder / "stowflow.yaml"))
    assert f"Would push 3 files, {total / 1024:.1f} KiB" in out
    assert "nightly" in out and "Would write 1 deployment" in out
    assert not (folder / "pushed").exists()


def test_deploy_runs_push_once_and_prints_ids(folder: Path, capsys) -> None:
    with session() as db:
        db.add(WorkPoolRecord(name="p"))
    (folder / "stowflow.yaml").write_text(
        "push:\n- stowflow.deployments.steps.run_shell_script:\n    script: echo x >> pushed\n"
        "    stream_output: false\n"
        "deployments:\n- {name: a, entrypoint: flows/etl.py:etl, work_pool: {name: p}}\n"
        "- {name: b, entrypoint: flows/etl.py:etl, work_pool: {name: p}}\n")
    assert main(["deploy", "--all"]) == 0
    assert (folder / "pushed").read_text() == "x\n"
    assert "Deployed 2 deployment(s)" in capsys.readouterr().out


def test_without_yaml_and_without_a_terminal(folder: Path, capsys) -> None:
    assert main(["deploy"]) == 1
    err = capsys.readouterr().err
    assert "no stowflow.yaml here" in err and "stowflow init" in err


def test_invalid_yaml_is_one_red_line_with_file_and_line(folder: Path, capsys) -> None:
    (folder / "stowflow.yaml").write_text("deployments:\n- name: a\n  entrypoint: 5\n")
    assert main(["deploy"]) == 1
    err = capsys.readouterr().err.strip()
    assert "stowflow.yaml:3: deployments[0].entrypoint" in err
    assert "Traceback" not in err


def _drive(argv: list[str], cwd: Path, replies: list[tuple[str, str]], env: dict[str, str]) -> str:
    """Run argv in a pseudo-terminal, answering each prompt that contains a text."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(argv, cwd=cwd, stdin=follower, stdout=follower, stderr=follower,
                               env=env, close_fds=True)
    os.close(follower)
    seen = b""
    pending = list(replies)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
                text = seen.decode(errors="replace")
                while pending and pending[0][0] in text:
                    prompt, reply = pending.pop(0)
                    text = text.split(prompt, 1)[1]
                    seen = text.encode()
                    os.write(leader, reply.encode() + b"\r")
            elif process.poll() is not None:
                break
    finally:
        process.wait(timeout=30)
        os.close(leader)
    return seen.decode(errors="replace")


def test_interactive_deploy_in_a_terminal_writes_yaml_and_deploys(folder: Path, stowflow_home) -> None:
    with session() as db:
        db.add(WorkPoolRecord(name="pool-x"))
    env = {**os.environ, "STOWFLOW_HOME": str(stowflow_home), "COLUMNS": "200"}
    _drive([sys.executable, "-m", "stowflow.cli", "deploy"], folder, [
        ("Where does the code live?", "local"),
        ("Flow entrypoint", ""),
        ("Deployment name", "term"),
        ("Work pool", "pool-x"),
    ], env)
    text = (folder / "stowflow.yaml").read_text()
    assert "name: term" in text and "flows/etl.py:etl" in text and "pool-x" in text
    from sqlalchemy import select
    from stowflow.db import DeploymentRecord

    with session() as db:
        names = [r.name for r in db.scalars(select(DeploymentRecord))]
    assert names == ["term"]


def test_interactive_deploy_offers_to_create_the_missing_work_pool(folder: Path,
                                                                  stowflow_home) -> None:
    from stowflow.workers.pools import pool_exists

    env = {**os.environ, "STOWFLOW_HOME": str(stowflow_home), "COLUMNS": "200"}
    _drive([sys.executable, "-m", "stowflow.cli", "deploy"], folder, [
        ("Where does the code live?", "local"),
        ("Flow entrypoint", ""),
        ("Deployment name", "newbie"),
        ("Work pool", "brand-new"),
        ("Work pool 'brand-new' does not exist. Create it", "y"),
    ], env)
    from sqlalchemy import select
    from stowflow.db import DeploymentRecord

    assert pool_exists("brand-new")
    with session() as db:
        assert [r.name for r in db.scalars(select(DeploymentRecord))] == ["newbie"]


def test_deploy_yes_creates_a_missing_pool_and_queue_and_without_it_says_how(
        folder: Path, capsys) -> None:
    from stowflow.workers.pools import pool_exists, queue_exists

    (folder / "stowflow.yaml").write_text(
        "deployments:\n- name: ci\n  entrypoint: flows/etl.py:etl\n"
        "  work_pool: {name: ci-pool, work_queue_name: nightly}\n")
    code = main(["deploy"])  # not a terminal: nobody to ask
    err = capsys.readouterr().err
    assert code == 1 and "work pool 'ci-pool' does not exist" in err and "--yes" in err
    assert not pool_exists("ci-pool")
    assert main(["deploy", "--yes"]) == 0
    assert pool_exists("ci-pool") and queue_exists("ci-pool", "nightly")


def test_deploy_in_a_terminal_offers_to_create_a_missing_queue(folder: Path,
                                                               stowflow_home) -> None:
    from stowflow.workers.pools import create_pool, queue_exists

    create_pool("have-pool")
    (folder / "stowflow.yaml").write_text(
        "deployments:\n- name: q\n  entrypoint: flows/etl.py:etl\n"
        "  work_pool: {name: have-pool, work_queue_name: nightly}\n")
    env = {**os.environ, "STOWFLOW_HOME": str(stowflow_home), "COLUMNS": "200"}
    said = _drive([sys.executable, "-m", "stowflow.cli", "deploy"], folder, [
        ("Work pool 'have-pool' has no queue 'nightly'. Create it", "y")], env)
    assert queue_exists("have-pool", "nightly"), said
    assert "Deployed 1 deployment(s)" in said
