"""The PostgreSQL fixture starts a real server and gives each test its own database."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import inspect
from stowflow.db import get_engine

pytestmark = pytest.mark.postgres


def test_fresh_database_is_reachable_and_migrates(postgres_url, monkeypatch):
    monkeypatch.setenv("STOWFLOW_DATABASE_URL", postgres_url)
    engine = get_engine()
    assert engine.dialect.name == "postgresql"
    assert {"flow_runs", "work_pools", "run_logs"} <= set(inspect(engine).get_table_names())


def test_each_test_gets_an_empty_database(postgres_url, postgres_server):
    dbname = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(host="127.0.0.1", port=postgres_server.port, user="postgres",
                         dbname=dbname) as conn:
        tables = conn.execute("select count(*) from pg_tables where schemaname='public'")
        assert tables.fetchone() == (0,)
