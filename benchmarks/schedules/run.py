"""Benchmark: one scheduler tick over 1,000 deployments with minute schedules.

For SQLite (a file in a temporary STOWFLOW_HOME) and PostgreSQL (a throwaway server from
``stowflow.testing.servers.postgres``), 1,000 deployments each get a ``* * * * *`` schedule
and the horizon (1 hour; 10 minutes with ``--quick``) is filled once; two ticks warm up
(statement caches, as in a scheduler that has been running). Then, as on every
minute boundary in steady state, each tick finds all 1,000 schedules due and creates one
run each (1,000 schedule rows read and locked, 1,000 runs inserted through the unique key,
1,000 watermarks written). Medians of several ticks:

- baseline: the same writes done as plainly as the database allows, in one transaction
  (one multi-row INSERT of 1,000 runs and one executemany UPDATE of 1,000 rows), measured
  in the same run on the same database;
- tick, shared cron: every schedule is ``* * * * *`` in UTC (expanded once per tick);
- tick, every timezone: the same minute cron spread over every IANA timezone zoneinfo
  knows (about 600), so the tick expands it once per timezone — croniter's cost shows;
- idle tick: nothing due (what a tick costs between minute boundaries).

Prints milliseconds (wall: median; CPU: mean, this process plus, on PostgreSQL, the server
backends serving it, read from /proc — the figure a loaded machine moves least) and the
ratio to the baseline. Target (issue 18): a tick under 100 ms.
Run: ``.nox/tests/bin/python benchmarks/schedules/run.py [--quick] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEPLOYMENTS = 1000


def _setup(distinct: bool) -> None:
    from zoneinfo import available_timezones

    from sqlalchemy import insert
    from stowflow.db import DeploymentRecord, ScheduleRecord, new_id, session, utcnow

    zones = sorted(available_timezones())
    now = utcnow()
    deployments, schedules = [], []
    for i in range(DEPLOYMENTS):
        dep_id = new_id()
        deployments.append({
            "id": dep_id, "name": f"d{i}", "flow_name": "bench", "entrypoint": "f.py:bench",
            "work_pool_name": "pool", "job_variables": {}, "parameters": {"i": i},
            "parameter_schema": {}, "enforce_parameter_schema": False, "pull_steps": [],
            "tags": [], "paused": False, "version_number": 1, "created": now, "updated": now})
        schedules.append({
            "id": new_id(), "deployment_id": dep_id, "position": 0, "cron": "* * * * *",
            "timezone": zones[i % len(zones)] if distinct else "UTC",
            "anchor_date": None,
            "active": True, "parameters": {}, "max_active_runs": None,
            "next_fire_at": now.replace(second=0, microsecond=0) + timedelta(minutes=1),
            "created": now, "updated": now})
    with session() as db:
        db.execute(insert(DeploymentRecord), deployments)
        db.execute(insert(ScheduleRecord), schedules)


def _reset() -> None:
    from sqlalchemy import delete
    from stowflow.db import DeploymentRecord, FlowRunRecord, session

    with session() as db:
        db.execute(delete(FlowRunRecord))
        db.execute(delete(DeploymentRecord))  # schedules cascade


_BACKENDS: list[int] = []  # PostgreSQL backend pids serving this process


def _find_backends() -> None:
    from sqlalchemy import text
    from stowflow.db import session

    _BACKENDS.clear()
    with session() as db:
        if db.get_bind().dialect.name == "postgresql":
            _BACKENDS.extend(db.scalars(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")))


def _cpu() -> float:
    """CPU seconds used so far by this process and the database backends serving it."""
    total = time.process_time()
    for pid in _BACKENDS:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _baseline(rows: int) -> tuple[float, float]:
    """The writes of a tick, plainly: INSERT 1,000 runs, UPDATE 1,000 rows, one transaction."""
    from sqlalchemy import bindparam, insert, update
    from stowflow.db import FlowRunRecord, ScheduleRecord, new_id, session, utcnow

    with session() as db:
        ids = [sid for (sid,) in db.execute(ScheduleRecord.__table__.select()
                                            .with_only_columns(ScheduleRecord.id))]
    now = utcnow()
    when = datetime(2099, 1, 1, tzinfo=UTC) + timedelta(days=time.time_ns() % 10_000)
    runs = [{"id": new_id(), "name": "b", "flow_name": "bench", "state": "BASELINE",
             "parameters": {}, "scheduled_at": when, "cancel_requested": False,
             "created": now, "updated": now} for _ in range(rows)]
    start, cpu = time.perf_counter(), _cpu()
    with session() as db:
        connection = db.connection()
        connection.execute(insert(FlowRunRecord), runs)
        connection.execute(update(ScheduleRecord).where(ScheduleRecord.id == bindparam("sid"))
                           .values(updated=bindparam("now")),
                           [{"sid": sid, "now": now} for sid in ids])
    return time.perf_counter() - start, _cpu() - cpu


def _timed(fn: Callable[[], Any], rounds: int) -> tuple[float, float]:
    """(median wall seconds, mean CPU seconds) of ``rounds`` calls of ``fn``."""
    times = []
    cpu = _cpu()
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), (_cpu() - cpu) / rounds


def _case(distinct: bool, rounds: int,
          horizon: timedelta) -> dict[str, tuple[float, float]]:
    from stowflow.schedules import tick

    _reset()
    _setup(distinct)
    _find_backends()
    base = datetime.now(UTC).replace(second=0, microsecond=0)
    filled = tick(now=base, horizon=horizon)  # the first fill of the horizon
    assert len(filled.created) >= DEPLOYMENTS, filled
    minute = iter(range(1, 10_000))
    created: list[int] = []

    def steady() -> None:
        report = tick(now=base + timedelta(minutes=next(minute)), horizon=horizon)
        created.append(len(report.created))

    for _ in range(2):  # a scheduler ticks all the time: measure it warm
        steady()
    results = {"tick, every timezone" if distinct else "tick, shared cron":
               _timed(steady, rounds)}
    assert set(created) == {DEPLOYMENTS}, created  # one new run per schedule per tick
    if not distinct:
        last = base + timedelta(minutes=next(minute) - 1)
        results["idle tick"] = _timed(
            lambda: tick(now=last + timedelta(seconds=1), horizon=horizon), rounds)
        base_runs = [_baseline(DEPLOYMENTS) for _ in range(rounds)]
        results["baseline"] = (statistics.median(w for w, _ in base_runs),
                               statistics.mean(c for _, c in base_runs))
    return results


def measure(label: str, rounds: int,
            horizon: timedelta) -> dict[str, tuple[float, float]]:
    """Run every case on the database STOWFLOW_DATABASE_URL points at; return
    (median wall, mean CPU) seconds per case."""
    results = {**_case(False, rounds, horizon), **_case(True, rounds, horizon)}
    print(f"\n{label} (load average {os.getloadavg()[0]:.1f})")
    print(f"  {'':<22} {'wall ms':>8} {'ratio':>6}   {'CPU ms':>8} {'ratio':>6}")
    base_wall, base_cpu = results["baseline"]
    for name, (wall, cpu) in results.items():
        print(f"  {name:<22} {wall * 1000:8.1f} {wall / base_wall:5.1f}x   "
              f"{cpu * 1000:8.1f} {cpu / base_cpu:5.1f}x")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10-minute horizon, 3 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 7)
    horizon = timedelta(minutes=10 if args.quick else 60)
    home = tempfile.mkdtemp(prefix="stowflow-bench-sched-")
    os.environ["STOWFLOW_HOME"] = home
    os.environ.pop("STOWFLOW_DATABASE_URL", None)
    from stowflow.db import dispose_engines

    print(f"1,000 deployments, minute schedules, horizon {horizon}, median of {rounds} ticks")
    measure("SQLite", rounds, horizon)
    dispose_engines()
    from stowflow.testing.servers.postgres import start_postgres

    server = start_postgres()
    try:
        server.admin('CREATE DATABASE "bench"')
        os.environ["STOWFLOW_DATABASE_URL"] = server.url("bench")
        measure("PostgreSQL", rounds, horizon)
        dispose_engines()
    finally:
        server.process.stop()


if __name__ == "__main__":
    main()
