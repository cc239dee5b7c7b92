"""The database: migrations reach the head the code expects, and a migrated one is not re-migrated."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from stowflow.db import engine as db_engine
from stowflow.db import get_engine


def test_head_revision_constant_is_the_newest_migration():
    config = Config()
    config.set_main_option("script_location", str(db_engine._MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == db_engine.HEAD_REVISION


def test_a_database_at_head_skips_alembic(stowflow_home: Path, monkeypatch):
    get_engine()  # creates and migrates
    db_engine.dispose_engines()
    calls: list[str] = []
    monkeypatch.setattr(db_engine, "_migrate", lambda engine, url: calls.append(url))
    get_engine()
    assert calls == []


def test_a_fresh_database_is_migrated(stowflow_home: Path):
    from sqlalchemy import inspect

    tables = set(inspect(get_engine()).get_table_names())
    assert {"block_documents", "deployments", "flow_runs", "run_logs", "alembic_version"} <= tables
