"""Benchmark: runs/s and CPU per run under load (issue 20, item 6).

Several ``stowflow worker start`` processes on one PostgreSQL server drain N runs of a
trivial flow (local storage). Reported per variant: wall time to drain, runs/s, and the
CPU (user + system) of the workers and everything they started, per run — read with
``RUSAGE_CHILDREN`` once the workers have exited, so every run process and fork server
(a standby interpreter in older code) is counted. Each variant also has an empty round:
the same workers start, each polls once, idle ``--settle`` seconds and stop; their CPU is
the fixed cost of the workers themselves (start-up, the fork server's imports), and
"per run beyond that" is (CPU of the N-run round - that) / N — what one more run costs a
worker that is already up.

``--before TREE`` measures the same against another checkout (its ``packages/*/src`` first
on ``PYTHONPATH``) in the same invocation, alternating rounds; each variant gets its own
database, created by that variant's code. Bytecode caches are on, as for installed code
(see benchmarks/startup/README.md).

Run: ``.nox/tests/bin/python benchmarks/runs/throughput.py [--runs 40] [--workers 3]
[--limit 2] [--before /tmp/old-tree] [--no-scheduler]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

FLOW = '''\
from stowflow import flow


@flow
def trivial(i: int = 0):
    return i
'''


def _child(args: argparse.Namespace) -> int:
    """One measurement in this interpreter's stowflow (PYTHONPATH picks the variant)."""
    from stowflow.deployments.records import upsert_deployment
    from stowflow.runs import create_flow_run, is_final, list_flow_runs
    from stowflow.workers.pools import create_pool

    project = Path(args.project)
    create_pool("bench")  # a fresh database each round
    dep = upsert_deployment(
        name="trivial", flow_name="trivial", entrypoint="flows/trivial.py:trivial",
        work_pool_name="bench",
        pull_steps=[{"stowflow.deployments.steps.set_working_directory":
                     {"directory": str(project)}}])
    for i in range(args.runs):
        create_flow_run(dep, {"i": i})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    workers = [subprocess.Popen(
        [sys.executable, "-m", "stowflow", "worker", "start", "--pool", "bench",
         "--limit", str(args.limit), "--poll-interval", str(args.poll_interval),
         *(["--no-scheduler"] if args.no_scheduler else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(args.workers)]
    deadline = time.monotonic() + 600
    if args.runs == 0:  # the workers' own cost: up (every one polled once), settled, stopped
        from stowflow.workers.presence import list_workers

        while len(list_workers("bench")) < args.workers:
            if time.monotonic() > deadline:
                raise TimeoutError("the workers did not start in 10 minutes")
            time.sleep(0.05)
        time.sleep(args.settle)
    while True:
        runs = list_flow_runs(limit=args.runs + 10)
        if len(runs) >= args.runs and all(is_final(r.state) for r in runs):
            break
        if time.monotonic() > deadline:
            raise TimeoutError("the runs did not finish in 10 minutes")
        time.sleep(0.05)
    drained = time.perf_counter() - started
    for worker in workers:
        worker.send_signal(signal.SIGINT)
    for worker in workers:
        worker.wait(timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    states = sorted({r.state for r in runs})
    print(json.dumps({"seconds": drained, "cpu": cpu, "states": states}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--limit", type=int, default=2, help="runs in flight per worker")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--poll-interval", type=float, default=1.0,
                        help="each worker's poll interval (its idle polling is CPU too)")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds idle workers run in the empty round (their standby "
                        "interpreter or fork server has finished its imports by then)")
    parser.add_argument("--no-scheduler", action="store_true",
                        help="start the workers without their scheduler thread")
    parser.add_argument("--before", type=Path, help="another checkout to compare against")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--project", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args)

    from stowflow.testing.servers.postgres import start_postgres, stop_postgres

    base = Path(tempfile.mkdtemp(prefix="stowflow-throughput-"))
    project = base / "project"
    (project / "flows").mkdir(parents=True)
    (project / "flows" / "trivial.py").write_text(FLOW)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "STOWFLOW_DATABASE_URL")}
    variants = {"now": env}
    if args.before is not None:
        path = os.pathsep.join(str(p) for p in sorted(args.before.glob("packages/*/src")))
        variants["before"] = {**env, "PYTHONPATH": path}
    server = start_postgres()
    results: dict[str, list[dict]] = {name: [] for name in variants}
    idle: dict[str, list[dict]] = {name: [] for name in variants}
    try:
        for _ in range(args.rounds):
            for name, variant_env in variants.items():
                for runs in (0, args.runs):
                    database = f"bench_{uuid.uuid4().hex[:10]}"
                    server.admin(f'CREATE DATABASE "{database}"')
                    child_env = {**variant_env, "STOWFLOW_DATABASE_URL": server.url(database),
                                 "STOWFLOW_HOME": str(base / f"home-{database}")}
                    out = subprocess.run(
                        [sys.executable, __file__, "--child", "--project", str(project),
                         "--runs", str(runs), "--workers", str(args.workers),
                         "--limit", str(args.limit), "--poll-interval", str(args.poll_interval),
                         "--settle", str(args.settle),
                         *(["--no-scheduler"] if args.no_scheduler else [])],
                        env=child_env, capture_output=True, text=True, check=True, timeout=900)
                    row = json.loads(out.stdout.strip().splitlines()[-1])
                    (results if runs else idle)[name].append(row)
    finally:
        stop_postgres(server)
    print(f"{args.runs} runs, {args.workers} workers x limit {args.limit}, polling every "
          f"{args.poll_interval:g} s{', no scheduler' if args.no_scheduler else ''}, PostgreSQL, "
          f"{args.rounds} rounds; load {os.getloadavg()[0]:.1f}")
    rates = {}
    for name, rows in results.items():
        seconds = statistics.median(r["seconds"] for r in rows)
        cpu = statistics.median(r["cpu"] for r in rows) / args.runs
        rates[name] = args.runs / seconds
        states = sorted({s for r in rows for s in r["states"]})
        fixed = statistics.median(r["cpu"] for r in idle[name])
        marginal = (statistics.median(r["cpu"] for r in rows) - fixed) / args.runs
        print(f"{name:<7} drained in {seconds:6.1f} s  {rates[name]:5.2f} runs/s  "
              f"{cpu:5.2f} s CPU per run  states {states}")
        print(f"{'':<7} workers alone (start, {args.settle:g} s idle, stop): {fixed:5.1f} s CPU; "
              f"per run beyond that {marginal:5.2f} s CPU")
    if "before" in rates:
        print(f"throughput now / before: {rates['now'] / rates['before']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
