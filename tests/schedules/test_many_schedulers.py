"""Four schedulers and four workers on one PostgreSQL database: every scheduled time gets
exactly one run (none twice, none missed), every run is executed once, and the catch-up
after downtime is decided once per schedule."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from stowflow.db import FlowRunRecord, ScheduleRecord, ScheduleSkipRecord, session
from stowflow.deployments.records import upsert_deployment
from stowflow.schedules import ScheduleSpec
from stowflow.workers.pools import create_pool

SCRIPT = Path(__file__).with_name("_multi_proc.py")
DEPLOYMENTS = 40
RUN_FOR = 6.0  # seconds of schedulers racing


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(480)
def test_four_schedulers_and_four_workers_create_and_run_each_time_once(
        postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOWFLOW_DATABASE_URL", postgres_url)
    create_pool("pool")
    for i in range(DEPLOYMENTS):
        upsert_deployment(name=f"d{i}", flow_name="tick", entrypoint="f.py:tick",
                          work_pool_name="pool",
                          schedules=[ScheduleSpec(interval=1, parameters={"i": i})])
    # Nothing has scheduled for the last minute: each schedule missed 60 times.
    downtime_start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=60)
    with session() as db:
        db.execute(update(ScheduleRecord).values(next_fire_at=downtime_start))
    env = {**os.environ, "STOWFLOW_DATABASE_URL": postgres_url}
    procs = [subprocess.Popen([sys.executable, str(SCRIPT), mode, str(tmp_path)], env=env,
                              stderr=subprocess.PIPE, text=True)
             for mode in ["scheduler"] * 4 + ["worker"] * 4]
    try:
        deadline = time.monotonic() + 240  # a loaded machine starts 8 interpreters slowly
        while len(list(tmp_path.glob("ready-*"))) < len(procs):
            assert time.monotonic() < deadline, "the processes did not start"
            assert all(p.poll() is None for p in procs), "a process died while starting"
            time.sleep(0.1)
        (tmp_path / "go").touch()
        time.sleep(RUN_FOR)
        (tmp_path / "stop-schedulers").touch()
        for proc in procs[:4]:
            assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
        stopped = datetime.now(UTC)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the workers drain what is due
            with session() as db:
                waiting = db.scalars(select(FlowRunRecord.id).where(
                    FlowRunRecord.state != "COMPLETED")).first()
            if waiting is None and datetime.now(UTC) > stopped + timedelta(seconds=1.5):
                break
            time.sleep(0.2)
        (tmp_path / "stop-workers").touch()
        for proc in procs[4:]:
            assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    with session() as db:
        runs = list(db.scalars(select(FlowRunRecord)))
        schedules = {s.id: s for s in db.scalars(select(ScheduleRecord))}
        skips = list(db.scalars(select(ScheduleSkipRecord)))
    assert len(runs) >= DEPLOYMENTS * 5 + DEPLOYMENTS * 3, "a few hundred runs"
    assert {r.state for r in runs} == {"COMPLETED"}
    executed = Counter((tmp_path / "executed").read_text().split())
    assert set(executed) == {r.id for r in runs} and set(executed.values()) == {1}
    # Per schedule: the catch-up was decided once (one skip record of the 55 oldest),
    # then every second from the 5 kept missed ones on has exactly one run, no gap.
    assert Counter(s.schedule_id for s in skips) == Counter({sid: 1 for sid in schedules})
    for skip in skips:
        assert _utc(skip.first_at) == downtime_start and skip.count is not None
        times = sorted(_utc(r.scheduled_at) for r in runs if r.schedule_id == skip.schedule_id)
        assert _utc(skip.last_at) + timedelta(seconds=1) == times[0]
        assert skip.count == int((times[0] - downtime_start).total_seconds())
        assert skip.count >= 55  # 60 s down, 5 kept (more while the processes started)
        assert times == [times[0] + timedelta(seconds=k) for k in range(len(times))]
        assert _utc(schedules[skip.schedule_id].next_fire_at) == times[-1] + timedelta(seconds=1)
        params = {r.parameters["i"] for r in runs if r.schedule_id == skip.schedule_id}
        assert len(params) == 1
