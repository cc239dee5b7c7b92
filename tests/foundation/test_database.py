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


def test_sqlite_connections_are_set_up_for_large_transactions(stowflow_home: Path):
    from sqlalchemy import text

    with get_engine().connect() as connection:
        settings = {name: connection.execute(text(f"PRAGMA {name}")).scalar()
                    for name in ("journal_mode", "synchronous", "cache_size",
                                 "wal_autocheckpoint", "foreign_keys")}
    # synchronous 1 = NORMAL; a negative cache_size is in KiB (SQLite's default: -2000)
    assert settings == {"journal_mode": "wal", "synchronous": 1, "cache_size": -65536,
                        "wal_autocheckpoint": 10000, "foreign_keys": 1}


def test_new_ids_are_distinct_uuid4_text_like_new_id():
    import uuid

    from stowflow.db import new_id, new_ids

    ids = new_ids(2000)
    assert len(set(ids)) == 2000 and new_ids(0) == []
    for text_id in [*ids, new_id()]:
        parsed = uuid.UUID(text_id)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text_id)
