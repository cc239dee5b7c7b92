"""Claiming is atomic on SQLite and PostgreSQL: N workers never share a run, none is lost;
a run whose worker died is marked CRASHED after the heartbeat timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from stowflow.db import FlowRunRecord, session, utcnow
from stowflow.runs import State, create_flow_run, get_flow_run, read_logs, set_state
from stowflow.workers.claim import claim_runs, heartbeat, reap_crashed_runs
from stowflow.workers.pools import create_pool

WORKER_SCRIPT = Path(__file__).with_name("_worker_proc.py")


def test_claim_takes_oldest_first_and_only_due_runs(stowflow_database, make_deployment):
    create_pool("pool")
    dep = make_deployment()
    later = create_flow_run(dep, scheduled_at=utcnow() + timedelta(hours=1))
    first = create_flow_run(dep, scheduled_at=utcnow() - timedelta(minutes=2))
    second = create_flow_run(dep, scheduled_at=utcnow() - timedelta(minutes=1))
    claimed = claim_runs("w1", 5, pool="pool")
    assert [r.id for r in claimed] == [first.id, second.id]
    assert all(r.state == "PENDING" and r.worker_name == "w1" for r in claimed)
    assert claim_runs("w2", 5, pool="pool") == []
    assert get_flow_run(later.id).state == "SCHEDULED"


def test_claim_respects_pool_pause_limit_and_other_pools(stowflow_database, make_deployment):
    create_pool("pool", concurrency_limit=2)
    create_pool("other")
    dep, elsewhere = make_deployment(), make_deployment("x", work_pool_name="other")
    for _ in range(4):
        create_flow_run(dep)
    foreign = create_flow_run(elsewhere)
    assert len(claim_runs("w1", 10, pool="pool")) == 2
    assert claim_runs("w2", 10, pool="pool") == []  # pool full
    assert [r.id for r in claim_runs("w3", 10, pool="other")] == [foreign.id]
    with session() as db:
        from stowflow.db import WorkPoolRecord

        db.execute(WorkPoolRecord.__table__.update().values(is_paused=True))
    with session() as db:
        db.execute(FlowRunRecord.__table__.update().where(FlowRunRecord.state == "PENDING")
                   .values(state="COMPLETED"))
    assert claim_runs("w1", 10, pool="pool") == []  # paused


def test_claim_by_deployment_for_serve(stowflow_database, make_deployment):
    served = make_deployment("served", work_pool_name=None)
    other = make_deployment("other", work_pool_name=None)
    mine = create_flow_run(served)
    create_flow_run(other)
    assert [r.id for r in claim_runs("serve", 5, deployment_ids=[served.id])] == [mine.id]


def test_heartbeat_reports_cancel_requests(stowflow_database, make_deployment):
    create_pool("pool")
    dep = make_deployment()
    a, b = create_flow_run(dep), create_flow_run(dep)
    claim_runs("w1", 2, pool="pool")
    from stowflow.runs import request_cancel

    request_cancel(b.id)
    assert heartbeat("w1", [a.id, b.id]) == {b.id}
    assert heartbeat("w1", []) == set()


def test_reaper_crashes_only_stale_runs(stowflow_database, make_deployment):
    create_pool("pool")
    dep = make_deployment()
    stale, fresh = create_flow_run(dep), create_flow_run(dep)
    claim_runs("dead", 1, pool="pool")
    claim_runs("alive", 1, pool="pool")
    set_state(stale.id, State.RUNNING, worker_name="dead")
    later = utcnow() + timedelta(seconds=30)
    heartbeat_time = later - timedelta(seconds=5)
    with session() as db:
        db.execute(FlowRunRecord.__table__.update().where(FlowRunRecord.id == fresh.id)
                   .values(heartbeat_at=heartbeat_time))
    assert reap_crashed_runs(10, pool="pool", now=later, exclude_worker="dead") == []
    assert reap_crashed_runs(10, pool="pool", now=later) == [stale.id]
    crashed = get_flow_run(stale.id)
    assert crashed.state == "CRASHED" and "heartbeating" in crashed.state_message
    assert "worker 'dead'" in read_logs(stale.id)[-1].message
    assert get_flow_run(fresh.id).state == "PENDING"
    assert reap_crashed_runs(10, pool="pool", now=later) == []


def _start_worker(mode: str, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(WORKER_SCRIPT), mode, "pool", str(out)],
                            env=os.environ.copy(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_four_worker_processes_drain_200_runs_without_duplicates(
        stowflow_database, make_deployment, tmp_path):
    create_pool("pool")
    dep = make_deployment()
    created = {create_flow_run(dep).id for _ in range(200)}
    outs = [tmp_path / f"worker-{i}.txt" for i in range(4)]
    procs = [_start_worker("record", out) for out in outs]
    time.sleep(3)  # let every interpreter start, then release them at once
    for out in outs:
        Path(f"{out}.go").touch()
    for proc in procs:
        output, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, output.decode(errors="replace")
    launched = Counter(line for out in outs if out.exists()
                       for line in out.read_text().split())
    duplicates = {run_id: n for run_id, n in launched.items() if n > 1}
    assert not duplicates
    assert set(launched) == created
    with session() as db:
        rows = list(db.execute(select(FlowRunRecord.state, FlowRunRecord.worker_name)))
    assert Counter(state for state, _ in rows) == {"COMPLETED": 200}
    per_worker = Counter(name for _, name in rows)
    assert sum(per_worker.values()) == 200
    # every worker file agrees with the owner the database recorded
    assert sorted(len(out.read_text().split()) for out in outs if out.exists()) == sorted(
        per_worker.values())


@pytest.mark.slow
def test_run_of_a_killed_worker_is_marked_crashed(stowflow_database, make_deployment, tmp_path):
    create_pool("pool")
    run = create_flow_run(make_deployment())
    out = tmp_path / "hang.txt"
    proc = _start_worker("hang", out)
    try:
        deadline = time.monotonic() + 60
        while get_flow_run(run.id).state != "RUNNING":
            assert time.monotonic() < deadline, "the worker never started the run"
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.1)
        time.sleep(0.5)
        # alive and heartbeating: not reaped
        assert reap_crashed_runs(1.0, pool="pool") == []
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert get_flow_run(run.id).state == "RUNNING"
        time.sleep(1.5)
        assert reap_crashed_runs(1.0, pool="pool") == [run.id]
        assert get_flow_run(run.id).state == "CRASHED"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_deployment_concurrency_limit_is_respected(stowflow_database, make_deployment):
    create_pool("pool")
    capped = make_deployment("capped", concurrency_limit=2)
    free = make_deployment("free")
    capped_runs = [create_flow_run(capped, scheduled_at=utcnow() - timedelta(minutes=10 - i))
                   for i in range(4)]
    other = create_flow_run(free)
    first = claim_runs("w1", 10, pool="pool")
    assert {r.id for r in first} == {capped_runs[0].id, capped_runs[1].id, other.id}
    assert claim_runs("w2", 10, pool="pool") == []  # capped is full, nothing else waits
    set_state(capped_runs[0].id, State.CANCELLED)  # a slot frees up
    assert [r.id for r in claim_runs("w2", 10, pool="pool")] == [capped_runs[2].id]
