"""Values longer than PostgreSQL's columns allow: one clear error, never an 'unexpected'
DataError that prints the SQL statement and its parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
from stowflow.db import WorkPoolRecord, session

LONG = "x" * 250
pytestmark = pytest.mark.postgres


@pytest.fixture
def on_postgres(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STOWFLOW_DATABASE_URL", postgres_url)
    return postgres_url


def test_long_block_name(on_postgres: str, fails_cleanly) -> None:
    message = fails_cleanly("block", "create", "secret", LONG, stdin="a-secret-value\n")
    assert "invalid block name" in message and "200 characters" in message
    assert "INSERT" not in message


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_postgres: str) -> Path:
    root = tmp_path / "proj"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text("from stowflow import flow\n\n@flow\ndef etl():\n    pass\n")
    monkeypatch.chdir(root)
    with session() as db:
        db.add(WorkPoolRecord(name="p"))
    return root


def test_long_deployment_name(project: Path, fails_cleanly) -> None:
    (project / "stowflow.yaml").write_text(
        f"deployments:\n- {{name: {LONG}, entrypoint: flows/etl.py:etl, work_pool: {{name: p}}}}\n")
    message = fails_cleanly("deploy")
    assert "name: String should have at most 200 characters" in message


def test_long_deployment_version_meets_the_database_safety_net(project: Path,
                                                               fails_cleanly) -> None:
    (project / "stowflow.yaml").write_text(
        f"deployments:\n- {{name: a, version: {LONG}, entrypoint: flows/etl.py:etl, "
        "work_pool: {name: p}}\n")
    message = fails_cleanly("deploy")
    assert "the database refused a value: value too long" in message
    assert "INSERT" not in message and LONG not in message
