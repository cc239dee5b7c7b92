"""The server over PostgreSQL (a database URL, as the issue allows): every page and the
API's lists and details render from a database the library filled — runs in every state,
schedules and their skips, logs, events, blocks, variables, pools, queues, workers —
with no server error, and the planted secret nowhere. The other server tests use SQLite."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from stowflow.blocks import Secret
from stowflow.db import dispose_engines, utcnow
from stowflow.deployments.records import upsert_deployment
from stowflow.runs import State, create_flow_run, record_event, set_state, write_logs
from stowflow.schedules import ScheduleSpec, tick
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.web import start_stowflow_server
from stowflow.variables import set_variable
from stowflow.workers.claim import claim_runs
from stowflow.workers.pools import create_pool, create_queue
from stowflow.workers.presence import beat

PLANTED = "planted-postgres-secret-6e21f0"


@pytest.mark.postgres
def test_every_page_renders_over_postgresql(postgres_url: str, stowflow_home: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOWFLOW_DATABASE_URL", postgres_url)
    dispose_engines()
    create_pool("pg-pool")
    create_queue("pg-pool", "fast", priority=1, concurrency_limit=2)
    dep_id = upsert_deployment(
        name="pg-dep", flow_name="pg-flow", entrypoint="f.py:f", work_pool_name="pg-pool",
        work_queue_name="fast", tags=["<b>t</b>"],
        parameter_schema={"type": "object", "properties": {"n": {"type": "integer"}}},
        schedules=[ScheduleSpec(cron="*/5 * * * *", timezone="Europe/Berlin")])
    tick()
    Secret(value=PLANTED).save("pg-secret")
    set_variable("pg-var", {"a": 1})
    done = create_flow_run(dep_id, {"n": 2})
    beat("pg-worker", "pg-pool")
    claimed = claim_runs("pg-worker", 10, pool="pg-pool")
    assert done.id in {r.id for r in claimed}
    late = create_flow_run(dep_id, {"n": 1}, scheduled_at=utcnow() - timedelta(minutes=3))
    for state in (State.RUNNING, State.COMPLETED):
        set_state(done.id, state, worker_name="pg-worker")
    write_logs(done.id, [("INFO", f"line {i}") for i in range(300)] + [("INFO", PLANTED)])
    record_event(done.id, "run", duration_s=0.5)

    # The same home as this process: the block store's key (a fresh database, not SQLite)
    server = start_stowflow_server(stowflow_home, env={"STOWFLOW_DATABASE_URL": postgres_url})
    texts: list[str] = []
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            def get(path: str, **params: object) -> httpx.Response:
                answer = http.get(path, params=params)  # type: ignore[arg-type]
                texts.append(answer.text)
                assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
                return answer

            assert get("/api/health").json()["database"] == "postgresql"
            for path in ("/blocks", "/blocks/secret/pg-secret", "/blocks/secret/pg-secret/edit",
                         "/deployments", f"/deployments/{dep_id}", f"/deployments/{dep_id}/run",
                         f"/deployments/{dep_id}/delete", "/work-pools", "/variables",
                         f"/flow-runs/{late.id}", "/api/deployments", "/api/work-pools",
                         "/api/variables", "/api/blocks", f"/api/flow-runs/{done.id}"):
                get(path)
            for state in ("", "LATE", "COMPLETED", "SCHEDULED"):
                get("/flow-runs", state=state, deployment=dep_id, work_pool="pg-pool")
            assert re.search(r'state-LATE">LATE<', get("/flow-runs", state="LATE").text)
            detail = get(f"/flow-runs/{done.id}").text
            assert "line 299" in detail and 'id="older-logs"' in detail
            assert "line 50" in get(f"/flow-runs/{done.id}",
                                    before=re.search(r"before=(\d+)", detail).group(1)).text
            assert "line 299" in get(f"/api/flow-runs/{done.id}/logs").text
            pools = get("/work-pools").text
            assert "fast" in pools and "pg-worker" in pools
            assert len(get("/api/flow-runs", limit=100).json()) >= 3
    finally:
        server.stop()
    assert_no_secret(PLANTED, *texts, server.log())
