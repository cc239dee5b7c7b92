"""What ``stowflow server start`` imports before ``/api/health`` answers.

The server is started for real with ``PYTHONPROFILEIMPORTTIME=1``: every module the process
imports is written to its log when it is loaded, so the log at the first healthy answer is
what start-up paid for. The time itself is measured in ``benchmarks/server``.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from stowflow.db import dispose_engines, get_engine
from stowflow.testing.servers.web import StowflowServer, start_stowflow_server

#: Not needed to answer /api/health or route an API request: imported on first use.
NOT_BEFORE_SERVING = ("sqlalchemy.orm", "stowflow.db.models", "alembic", "pydantic_settings",
                      "dotenv", "jinja2", "stowflow.server.pages", "stowflow.blocks.documents",
                      "cryptography", "rich")


def _imported(server: StowflowServer) -> set[str]:
    return {match.group(1) for match in
            re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", server.log(), re.M)}


def test_start_up_imports_neither_the_orm_nor_the_pages(stowflow_home: Path,
                                                         tmp_path: Path) -> None:
    get_engine()  # the database exists and is at head, as on every start but the first
    dispose_engines()
    server = start_stowflow_server(stowflow_home, env={"PYTHONPROFILEIMPORTTIME": "1"})
    try:
        before = _imported(server)
        assert "fastapi" in before and "sqlalchemy" in before  # the log is the import log
        assert sorted(m for m in before if m.split(".")[0] in NOT_BEFORE_SERVING
                      or m.startswith(NOT_BEFORE_SERVING)) == []
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get("/api/flow-runs").json() == []
            assert client.get("/api/blocks").json() == []
            assert client.get("/flow-runs").status_code == 200
        after = _imported(server)
        assert {"sqlalchemy.orm", "stowflow.db.models", "jinja2"} <= after
        assert "alembic" not in after and "pydantic_settings" not in after
    finally:
        server.stop()
