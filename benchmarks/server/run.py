"""Benchmark: server-side render times of the UI with a full database (issue 15's targets).

Seeds a database with 200 deployments, 10,000 flow runs (each with its state history and
six phase events) and one run with 100,000 log lines, starts ``stowflow server start``
over it, and times each list page, a run's page and the big run's (paged) log page over
HTTP from this process: p50 and p95 of N requests after one warm-up, next to
``/api/health`` measured in the same run as the baseline (the cost of a request that
renders nothing). Also the server's start-up: ``stowflow server start`` to the first
healthy ``/api/health`` answer, wall time and the server process's CPU seconds (the figure
that does not depend on how loaded the machine is), next to two baselines started in the
same run: an empty interpreter, and one that only imports the libraries the server needs
before it answers (fastapi, uvicorn, SQLAlchemy Core with the database's dialect, typer; on
PostgreSQL also psycopg) — the floor no code of ours can go under — and the floor as it was
while the server imported SQLAlchemy's ORM before serving (+ sqlalchemy.orm). Jinja2 and the
ORM are not in the floor: the server loads them with the first page / API request, whose
times (right after the first healthy answer) are printed too.
Start-ups run with bytecode caching on (one warm-up start first), as an installed stowflow
runs; the test environment's ``PYTHONDONTWRITEBYTECODE`` would otherwise recompile every
module on every start.

Run: ``.nox/tests/bin/python benchmarks/server/run.py [--quick] [--postgres]``
(``--postgres`` also runs everything on a throwaway PostgreSQL server).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEPLOYMENTS = 200
RUNS = 10_000
LOG_LINES = 100_000
STATES = ["COMPLETED"] * 7 + ["FAILED", "CANCELLED", "CRASHED"]
PHASES = ("resolve", "install", "auth", "transfer", "import", "run")


def seed(database_url: str | None) -> tuple[str, str]:
    """Fill the database; return (a deployment id, the id of the run with the big log)."""
    from sqlalchemy import insert
    from stowflow.blocks import Secret
    from stowflow.db import (
        DeploymentRecord,
        DeploymentVersionRecord,
        FlowRunRecord,
        FlowRunStateRecord,
        RunEventRecord,
        RunLogRecord,
        new_id,
        session,
    )
    from stowflow.variables import set_variable
    from stowflow.workers.pools import create_pool

    rng = random.Random(15)
    now = datetime.now(UTC)
    for pool in range(5):
        create_pool(f"pool-{pool}", exist_ok=True)
    for i in range(50):
        Secret(value=f"bench-secret-{i:03d}-value").save(f"secret-{i:03d}")
        set_variable(f"var_{i:03d}", {"i": i})
    deployments = []
    dep_rows, version_rows = [], []
    for i in range(DEPLOYMENTS):
        dep_id = new_id()
        values = {"name": f"dep-{i:03d}", "flow_name": f"flow-{i % 40:02d}",
                  "entrypoint": "flows/etl.py:etl", "work_pool_name": f"pool-{i % 5}",
                  "pull_steps": [{"stowflow.deployments.steps.git_clone": {
                      "repository": f"https://git.example.com/org/repo-{i}.git"}}],
                  "parameter_schema": {"type": "object", "properties": {
                      "name": {"type": "string"}}},
                  "tags": ["bench"], "job_variables": {}, "parameters": {}}
        dep_rows.append({"id": dep_id, "version_number": 1, "created": now, "updated": now,
                         "enforce_parameter_schema": True, "paused": False, **values})
        version_rows.append({"id": new_id(), "deployment_id": dep_id, "version_number": 1,
                             "snapshot": values, "created": now})
        deployments.append((dep_id, values))
    run_rows, state_rows, event_rows = [], [], []
    for i in range(RUNS):
        dep_id, values = deployments[i % DEPLOYMENTS]
        run_id = new_id()
        created = now - timedelta(seconds=RUNS - i)
        state = rng.choice(STATES)
        run_rows.append({"id": run_id, "name": f"{values['name']}-{i}", "deployment_id": dep_id,
                         "deployment_version": 1, "flow_name": values["flow_name"],
                         "work_pool_name": values["work_pool_name"], "state": state,
                         "parameters": {"name": f"n{i}"}, "code_version": f"{i:040x}",
                         "scheduled_at": created, "created": created, "updated": created,
                         "started_at": created, "ended_at": created + timedelta(seconds=3),
                         "cancel_requested": False})
        for offset, s in enumerate(("SCHEDULED", "PENDING", "RUNNING", state)):
            state_rows.append({"flow_run_id": run_id, "state": s,
                               "timestamp": created + timedelta(seconds=offset)})
        for offset, phase in enumerate(PHASES):
            event_rows.append({"flow_run_id": run_id, "phase": phase, "status": "ok",
                               "duration_s": 0.1 * (offset + 1), "details": {},
                               "timestamp": created + timedelta(seconds=offset)})
    big_run = run_rows[-1]["id"]
    with session() as db:
        db.execute(insert(DeploymentRecord), dep_rows)
        db.execute(insert(DeploymentVersionRecord), version_rows)
        for start in range(0, RUNS, 2000):
            db.execute(insert(FlowRunRecord), run_rows[start:start + 2000])
        for start in range(0, len(state_rows), 5000):
            db.execute(insert(FlowRunStateRecord), state_rows[start:start + 5000])
        for start in range(0, len(event_rows), 5000):
            db.execute(insert(RunEventRecord), event_rows[start:start + 5000])
    for start in range(0, LOG_LINES, 10_000):
        with session() as db:
            db.execute(insert(RunLogRecord), [
                {"flow_run_id": big_run, "level": "INFO", "timestamp": now,
                 "message": f"log line {n:06d} of the big run"}
                for n in range(start, start + 10_000)])
    return deployments[0][0], big_run


def timed(url: str, n: int) -> tuple[float, float]:
    """Return (p50, p95) in ms of ``n`` GETs of ``url`` after one warm-up."""
    urllib.request.urlopen(url, timeout=60).read()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
            assert response.status == 200, url
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, round(0.95 * len(samples)) - 1)]


STACK = "import fastapi, uvicorn, sqlalchemy, typer"
SQLITE_DRIVER = ", sqlalchemy.dialects.sqlite"
PG_DRIVER = ", psycopg, sqlalchemy.dialects.postgresql.psycopg"
#: The first requests after start-up: what the lazy imports (ORM, models, pages) cost once.
FIRST_REQUESTS = ("/api/flow-runs?limit=50", "/flow-runs")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _child_cpu(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``argv`` to its end; return (wall, CPU seconds)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _server_start(env: dict[str, str]) -> tuple[float, float, list[float]]:
    """Start ``stowflow server start``; return (wall, its CPU seconds) at the first healthy
    ``/api/health`` answer and the wall seconds of each of :data:`FIRST_REQUESTS` after it,
    then stop it."""
    from stowflow.testing.servers._process import free_port

    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "stowflow", "server", "start",
                                "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health",
                                            timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                if process.poll() is not None or time.perf_counter() - started > 120:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.005)
        wall, cpu = time.perf_counter() - started, _cpu_seconds(process.pid)
        firsts = []
        for path in FIRST_REQUESTS:
            begun = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as page:
                page.read()
            firsts.append(time.perf_counter() - begun)
        return wall, cpu, firsts
    finally:
        process.terminate()
        process.wait(timeout=30)


def startup(env_extra: dict[str, str], runs: int) -> None:
    """Print the server's start-up (median of ``runs``) next to the two baselines."""
    env = {**os.environ, **env_extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    _server_start(env)  # warm-up: writes the bytecode caches, creates the database
    postgres = env.get("STOWFLOW_DATABASE_URL", "").startswith("postgresql")
    stack = STACK + (PG_DRIVER if postgres else SQLITE_DRIVER)
    # Ended by os._exit, as the server is measured at its first answer: without it the
    # floor also paid the interpreter's teardown of the stack (~0.05-0.1 s).
    exit_now = "; import os; os._exit(0)"
    names = ("python -c pass (baseline)", "import of the stack only (baseline)",
             "... + sqlalchemy.orm (the old floor)", "stowflow server start -> healthy")
    rows: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    firsts: list[list[float]] = []
    for _ in range(runs):  # interleaved, so a change of load hits every row alike
        rows[names[0]].append(_child_cpu([sys.executable, "-c", "pass"], env))
        rows[names[1]].append(_child_cpu([sys.executable, "-c", stack + exit_now], env))
        rows[names[2]].append(_child_cpu(
            [sys.executable, "-c", stack + ", sqlalchemy.orm" + exit_now], env))
        wall, cpu, first = _server_start(env)
        rows[names[3]].append((wall, cpu))
        firsts.append(first)
    print(f"{'start-up':45} {'wall s':>8} {'CPU s':>8} {'wall/floor':>11}   (median of {runs}, "
          f"load average {os.getloadavg()[0]:.1f})")
    floor = statistics.median(w for w, _ in rows[names[1]])
    for name, samples in rows.items():
        wall = statistics.median(w for w, _ in samples)
        print(f"{name:45} {wall:8.2f} {statistics.median(c for _, c in samples):8.2f} "
              f"{wall / floor:10.2f}x")
    for index, path in enumerate(FIRST_REQUESTS):
        first_ms = statistics.median(f[index] for f in firsts) * 1000
        print(f"{'first ' + path + ' after healthy (ms)':45} {first_ms:8.1f}")


def run_on(label: str, database_url: str | None, n: int) -> None:
    """Seed, start the server, time every page; print one table."""
    from stowflow.db import dispose_engines
    from stowflow.testing.servers.web import start_stowflow_server

    home = Path(tempfile.mkdtemp(prefix="sf-bench-server-"))
    os.environ["STOWFLOW_HOME"] = str(home)
    env = {}
    if database_url:
        os.environ["STOWFLOW_DATABASE_URL"] = database_url
        env["STOWFLOW_DATABASE_URL"] = database_url
    else:
        os.environ.pop("STOWFLOW_DATABASE_URL", None)
    started = time.perf_counter()
    dep_id, big_run = seed(database_url)
    print(f"[{label}] seeded {DEPLOYMENTS} deployments, {RUNS} runs, {LOG_LINES} log lines "
          f"in {time.perf_counter() - started:.1f}s")
    if database_url:
        # A running PostgreSQL has analysed tables this size (autovacuum does it after
        # bulk inserts); right after the load the planner guesses instead.
        from sqlalchemy import text
        from stowflow.db import get_engine

        with get_engine().connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    dispose_engines()
    startup({"STOWFLOW_HOME": str(home), **env}, 3 if n <= 10 else 5)
    server = start_stowflow_server(home, env=env)
    try:
        from stowflow.runs import list_flow_runs

        some_run = list_flow_runs(limit=1, offset=5000)[0].id
        pages = {
            "/api/health (baseline)": "/api/health",
            "/flow-runs": "/flow-runs",
            "/flow-runs?state=FAILED": "/flow-runs?state=FAILED",
            "/flow-runs?deployment=<id>": f"/flow-runs?deployment={dep_id}",
            "/flow-runs?work_pool=pool-3&page=20": "/flow-runs?work_pool=pool-3&page=20",
            "/deployments": "/deployments",
            "/deployments/<id>": f"/deployments/{dep_id}",
            "/blocks": "/blocks",
            "/work-pools": "/work-pools",
            "/variables": "/variables",
            "/api/flow-runs?limit=50": "/api/flow-runs?limit=50",
            "/flow-runs/<id>": f"/flow-runs/{some_run}",
            "/flow-runs/<100k-line run>": f"/flow-runs/{big_run}",
            "/flow-runs/<100k-line run>?before=50000": f"/flow-runs/{big_run}?before=50000",
        }
        results = {name: timed(server.url + path, n) for name, path in pages.items()}
        base = results["/api/health (baseline)"][0]
        print(f"[{label}] pages (load average {os.getloadavg()[0]:.1f})")
        print(f"{'page':45} {'p50 ms':>8} {'p95 ms':>8} {'p50/baseline':>13}")
        for name, (p50, p95) in results.items():
            print(f"{name:45} {p50:8.1f} {p95:8.1f} {p50 / base:12.1f}x")
    finally:
        server.stop()
        dispose_engines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 requests per page, not 40")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    args = parser.parse_args()
    n = 10 if args.quick else 40
    run_on("sqlite", None, n)
    if args.postgres:
        from stowflow.testing.servers.postgres import start_postgres, stop_postgres

        pg = start_postgres()
        try:
            pg.admin('CREATE DATABASE "bench_server"')
            run_on("postgresql", pg.url("bench_server"), n)
        finally:
            stop_postgres(pg)


if __name__ == "__main__":
    sys.exit(main())
