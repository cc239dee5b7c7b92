"""Benchmark: time from ``stowflow deployment run`` to the first line of the flow function.

A process worker (``stowflow worker start --poll-interval 0.05``) runs in its own process;
this process calls ``deployment run`` (the CLI, in-process) and waits for the flow's
first line to write ``time.time()`` into a marker file. Medians of several rounds:

- baseline: a bare ``python -c`` that imports the flow file and calls the function — the
  floor for any design that runs each flow in a fresh interpreter;
- rounds are spaced (2.5x the baseline, at least 2 s), as runs of a worker that is not
  saturated; the worker's fork server (imports done, the pull steps' modules imported)
  forks each run;
- local: a deployment with local storage (``set_working_directory``);
- s3 (when ``stowflow-aws`` is installed): a deployment pulled from S3 (moto on
  127.0.0.1) with credentials from a block, after one warm-up run fills the node's cache.

For each deployment the ratio to the baseline is printed, with the median of each phase
so the overhead can be located. Run: ``.venv/bin/python benchmarks/runs/run.py [--quick]``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

FLOW = '''\
import time
from pathlib import Path

from stowflow import flow


@flow
def bench(marker: str):
    Path(marker).write_text(repr(time.time()))  # the first line of the flow
'''


def _wait_for(path: Path, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while True:
        try:
            text = path.read_text()
            if text:
                return float(text)
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the flow never wrote {path}")
        time.sleep(0.002)


def _baseline(project: Path, markers: Path, rounds: int) -> list[float]:
    times = []
    for i in range(rounds):
        marker = markers / f"baseline-{i}"
        code = (f"import sys; sys.path.insert(0, {str(project)!r}); "
                f"from flows.bench import bench; bench.fn({str(marker)!r})")
        started = time.time()
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
        times.append(_wait_for(marker) - started)
    return times


def _measure(ref: str, markers: Path, rounds: int, label: str,
             pause: float = 2.0) -> tuple[list[float], dict]:
    from stowflow.cli.app import main as cli
    from stowflow.runs import get_flow_run, is_final, list_flow_runs, read_events

    times: list[float] = []
    phases: dict[str, list[float]] = defaultdict(list)
    for i in range(rounds):
        marker = markers / f"{label}-{i}"
        started = time.time()
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            code = cli(["deployment", "run", ref, "--param", f"marker={marker}"])
        assert code == 0, f"deployment run exited {code}"
        times.append(_wait_for(marker) - started)
        (run,) = list_flow_runs(limit=1)
        deadline = time.monotonic() + 60
        while not is_final(get_flow_run(run.id).state):
            assert time.monotonic() < deadline, "the run never finished"
            time.sleep(0.02)
        final = get_flow_run(run.id)
        assert final.state == "COMPLETED", f"{label} run ended {final.state}: {final.state_message}"
        events = read_events(run.id)
        resolved = next(e for e in events if e.phase == "resolve")
        phases["wait for claim"].append(
            (resolved.timestamp - final.created).total_seconds() - (resolved.duration_s or 0))
        for event in events:
            phases[event.phase].append(event.duration_s or 0.0)
            if event.phase == "resolve":
                phases["start process"].append(
                    (final.started_at - resolved.timestamp).total_seconds())
        time.sleep(pause)  # a worker between runs
    return times, phases


def _report(label: str, times: list[float], baseline: float, phases: dict | None = None) -> None:
    median = statistics.median(times)
    ratio = f"  {median / baseline:5.2f}x baseline" if baseline else ""
    print(f"{label:<22} median {median * 1000:8.1f} ms  (min {min(times) * 1000:7.1f}){ratio}")
    for phase, values in (phases or {}).items():
        print(f"    {phase:<18} {statistics.median(values) * 1000:8.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 3 if args.quick else 9

    base = Path(tempfile.mkdtemp(prefix="stowflow-runs-bench-"))
    os.environ["STOWFLOW_HOME"] = str(base / "home")
    os.environ.pop("STOWFLOW_DATABASE_URL", None)
    project = base / "project"
    (project / "flows").mkdir(parents=True)
    (project / "flows" / "bench.py").write_text(FLOW)
    markers = base / "markers"
    markers.mkdir()

    from stowflow.deployments.records import upsert_deployment
    from stowflow.workers.pools import create_pool

    create_pool("bench")
    schema = {"type": "object", "properties": {"marker": {"type": "string"}},
              "required": ["marker"]}
    upsert_deployment(name="local", flow_name="bench", entrypoint="flows/bench.py:bench",
                      work_pool_name="bench", parameter_schema=schema,
                      pull_steps=[{"stowflow.deployments.steps.set_working_directory":
                                   {"directory": str(project)}}])
    worker = subprocess.Popen(
        [sys.executable, "-m", "stowflow", "worker", "start", "--pool", "bench",
         "--poll-interval", "0.05", "--limit", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s3 = None
    try:
        baseline_times = _baseline(project, markers, rounds)
        baseline = statistics.median(baseline_times)
        print(f"rounds: {rounds}; worker polls every 50 ms; machine load "
              f"{os.getloadavg()[0]:.1f}")
        _report("baseline (python -c)", baseline_times, 0.0)
        pause = max(2.0, 2.5 * baseline)
        _measure("bench/local", markers, 1, "warmup-local", pause)
        times, phases = _measure("bench/local", markers, rounds, "local", pause)
        _report("local storage", times, baseline, phases)
        if importlib.util.find_spec("stowflow_aws") is None:
            print("s3: skipped (stowflow-aws is not installed)")
            return 0
        s3 = _setup_s3(project, schema)
        _measure("bench/s3", markers, 1, "warmup-s3", pause)  # fills the node's content cache
        times, phases = _measure("bench/s3", markers, rounds, "s3", pause)
        _report("s3, warm cache", times, baseline, phases)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        if s3 is not None:
            s3.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


def _setup_s3(project: Path, schema: dict):  # type: ignore[no-untyped-def]
    from stowflow.deployments.records import upsert_deployment
    from stowflow.testing.servers.s3 import S3Server, start_moto
    from stowflow_aws import AwsCredentials
    from stowflow_aws.deployments.steps import push_to_s3

    process = start_moto()
    server = S3Server(process)
    bucket = server.create_bucket("bench-code")
    AwsCredentials(aws_access_key_id=server.access_key_id,
                   aws_secret_access_key=server.secret_access_key, region_name=server.region,
                   aws_client_parameters={"endpoint_url": server.endpoint_url}).save("bench")
    credentials = "{{ stowflow.blocks.aws-credentials.bench }}"
    cwd = Path.cwd()
    os.chdir(project)
    try:
        push_to_s3(bucket=bucket, folder="bench", credentials=AwsCredentials.load("bench"))
    finally:
        os.chdir(cwd)
    upsert_deployment(name="s3", flow_name="bench", entrypoint="flows/bench.py:bench",
                      work_pool_name="bench", parameter_schema=schema,
                      pull_steps=[{"stowflow_aws.deployments.steps.pull_from_s3": {
                          "bucket": bucket, "folder": "bench", "credentials": credentials}}])
    return process


if __name__ == "__main__":
    sys.exit(main())
