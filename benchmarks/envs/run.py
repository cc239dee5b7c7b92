"""Benchmark: the install phase of a deployment with 10 real requirements from PyPI.

A deployment pulls a project (``set_working_directory``) and runs
``pip_install_requirements`` on its ``requirements.txt`` (10 packages from PyPI, which
resolve to more with their dependencies); its flow imports them all. A process worker runs
it ``--runs`` times (default 3). The first run builds the layer (a cache miss: resolve,
download, install); the later runs find it (a hit). For each run the script prints the
install event the step recorded (``cached``, seconds) and the run's phases, and at the end
the ratio of the hits to the miss measured in the same run, with the issue-16 target
(a hit's install phase ≤ 0.1 s).

uv's download cache is a fresh folder (``UV_CACHE_DIR``) unless ``--warm-uv-cache``, so the
first run's figure is a real first install. Needs network access to PyPI.

Run: ``.nox/tests/bin/python benchmarks/envs/run.py [--runs 3] [--warm-uv-cache]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REQUIREMENTS = """\
requests
python-dateutil
attrs
tabulate
click
jinja2
pyparsing
six
toolz
tenacity
"""

FLOW = '''\
from stowflow import flow


@flow
def uses_ten():
    import attrs, click, dateutil, jinja2, pyparsing, requests, six, tabulate, tenacity, toolz
    print("imported", requests.__version__, jinja2.__version__)
'''


def main() -> int:
    """Run the benchmark in a temporary STOWFLOW_HOME (removed afterwards); return the
    exit code (1 when a run failed)."""
    base = Path(tempfile.mkdtemp(prefix="stowflow-bench-envs-"))
    try:
        return _bench(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _bench(base: Path) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of the deployment (≥ 2)")
    parser.add_argument("--warm-uv-cache", action="store_true",
                        help="use uv's usual download cache (the first run downloads less)")
    args = parser.parse_args()
    os.environ["STOWFLOW_HOME"] = str(base / "home")
    os.environ.pop("STOWFLOW_DATABASE_URL", None)
    if not args.warm_uv_cache:
        os.environ["UV_CACHE_DIR"] = str(base / "uv-cache")
    project = base / "project"
    project.mkdir()
    (project / "requirements.txt").write_text(REQUIREMENTS)
    (project / "flow.py").write_text(FLOW)

    from stowflow.deployments.records import upsert_deployment
    from stowflow.runs import create_flow_run, get_flow_run, read_events, read_logs
    from stowflow.workers.pools import create_pool
    from stowflow.workers.worker import Worker

    create_pool("bench", exist_ok=True)
    dep = upsert_deployment(
        name="ten", flow_name="bench-envs", entrypoint="flow.py:uses_ten",
        work_pool_name="bench",
        pull_steps=[
            {"stowflow.deployments.steps.set_working_directory": {"directory": str(project)}},
            {"stowflow.deployments.steps.pip_install_requirements": {}}])
    installs: list[tuple[bool, float]] = []
    for index in range(max(2, args.runs)):
        run = create_flow_run(dep)
        started = time.perf_counter()
        Worker("bench", poll_interval=0.05).start(run_once=True, install_signal_handlers=False)
        wall = time.perf_counter() - started
        done = get_flow_run(run.id)
        if done.state != "COMPLETED":
            print(f"run {index + 1} {done.state}: {done.state_message}")
            for line in read_logs(run.id)[-20:]:
                print("  ", line.message)
            return 1
        events = read_events(run.id)
        install = next(e for e in events if e.phase == "install"
                       and e.details.get("source") == "pip_install_requirements")
        installs.append((bool(install.details["cached"]), float(install.duration_s or 0)))
        phases = ", ".join(f"{e.phase} {e.duration_s:.3f}s" for e in events
                           if e.duration_s is not None)
        print(f"run {index + 1}: install {'hit ' if install.details['cached'] else 'miss'} "
              f"{install.duration_s:.4f}s (key {install.details['key']}); "
              f"worker wall {wall:.2f}s; phases: {phases}")
    miss = [seconds for cached, seconds in installs if not cached]
    hits = [seconds for cached, seconds in installs if cached]
    if len(miss) != 1 or not hits:
        print(f"expected one miss then hits, got {installs}")
        return 1
    hit = statistics.median(hits)
    print(f"\nfirst run (miss): {miss[0]:.3f} s; later runs (hit), median of {len(hits)}: "
          f"{hit * 1000:.1f} ms = {hit / miss[0]:.4f}x the first; "
          f"target hit <= 0.1 s: {'met' if hit <= 0.1 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
