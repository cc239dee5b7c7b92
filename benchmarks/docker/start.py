"""Benchmark: ``deployment run`` → the flow's first line, in a container and in a process.

The same flow (it writes ``time.time()`` into a marker file as its first line) runs:

- **docker run**: a bare ``docker run --rm`` of the image with ``python -c`` doing that —
  the floor for any design that starts a fresh container per run;
- **docker pool**: ``stowflow deployment run`` on a docker pool, image present, code baked
  in (``set_working_directory``), the marker folder mounted at the same path;
- **process pool**: the same deployment on a process pool (local folder), the figure of
  ``benchmarks/runs/run.py``.

A worker of each pool (``stowflow worker start --poll-interval 0.05 --limit 1``) runs in its
own process; rounds are spaced as in ``benchmarks/runs/run.py`` (that module's measuring
loop is reused). Medians; the phases of the pool runs are printed so the overhead can be
located. Starts its own dockerd (or uses ``DOCKER_HOST``) and the test fixtures' offline
base image.

Run: ``.nox/tests/bin/python benchmarks/docker/start.py [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_RUNS = Path(__file__).parents[1] / "runs" / "run.py"


def _runs_benchmark():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("runs_benchmark", _RUNS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bare_docker_run(daemon, image: str, markers: Path, rounds: int,  # type: ignore[no-untyped-def]
                     wait_for) -> list[float]:
    times = []
    for i in range(rounds):
        marker = markers / f"bare-{i}"
        code = f"import time; open({str(marker)!r}, 'w').write(repr(time.time()))"
        started = time.time()
        daemon.cli("run", "--rm", "--network", "none", "-v", f"{markers}:{markers}", image,
                   "python", "-c", code)
        times.append(wait_for(marker) - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 3 if args.quick else 7
    bench = _runs_benchmark()

    from stowflow.testing.servers.docker import ensure_python_base_image, start_docker_daemon

    daemon = start_docker_daemon()
    base = Path(tempfile.mkdtemp(prefix="stowflow-docker-start-"))
    os.environ.update(DOCKER_HOST=daemon.host, STOWFLOW_HOME=str(base / "home"),
                      STOWFLOW_DOCKER_BUILD_NETWORK="host")
    os.environ.pop("STOWFLOW_DATABASE_URL", None)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        os.environ["STOWFLOW_DOCKER_BASE_IMAGE"] = ensure_python_base_image(daemon)
        from stowflow.deployments.records import upsert_deployment
        from stowflow.workers.pools import create_pool
        from stowflow_docker.dockerfile import CODE_DIR
        from stowflow_docker.images import DockerImage, build_image

        project = base / "project"
        (project / "flows").mkdir(parents=True)
        (project / "flows" / "bench.py").write_text(bench.FLOW)
        markers = base / "markers"
        markers.mkdir()
        image = build_image(DockerImage("bench/start"), project, progress=lambda _l: None).image
        schema = {"type": "object", "properties": {"marker": {"type": "string"}},
                  "required": ["marker"]}
        create_pool("dbench", type="docker")
        create_pool("pbench")
        for pool, directory, variables in (
                ("dbench", CODE_DIR, {"image": image, "network_mode": "none",
                                      "volumes": [f"{markers}:{markers}"]}),
                ("pbench", str(project), {})):
            upsert_deployment(name=pool, flow_name="bench", entrypoint="flows/bench.py:bench",
                              work_pool_name=pool, parameter_schema=schema,
                              job_variables=variables,
                              pull_steps=[{"stowflow.deployments.steps.set_working_directory":
                                           {"directory": directory}}])
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "stowflow", "worker", "start", "--pool", pool,
                 "--poll-interval", "0.05", "--limit", "1", "--no-scheduler"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        bare = _bare_docker_run(daemon, image, markers, rounds, bench._wait_for)
        floor = statistics.median(bare)
        print(f"rounds: {rounds}; workers poll every 50 ms; machine load "
              f"{os.getloadavg()[0]:.1f}")
        bench._report("docker run (bare)", bare, 0.0)
        pause = max(2.0, 2.5 * floor)
        bench._measure("bench/dbench", markers, 1, "warmup-docker", pause)
        docker_times, docker_phases = bench._measure("bench/dbench", markers, rounds,
                                                     "docker", pause)
        bench._report("docker pool", docker_times, floor, docker_phases)
        bench._measure("bench/pbench", markers, 1, "warmup-process", pause)
        process_times, process_phases = bench._measure("bench/pbench", markers, rounds,
                                                       "process", pause)
        bench._report("process pool", process_times, 0.0, process_phases)
        added = statistics.median(docker_times) - floor
        print(f"docker pool - bare docker run: {added * 1000:.0f} ms (what stowflow adds to a "
              "container start); docker pool - process pool: "
              f"{(statistics.median(docker_times) - statistics.median(process_times)) * 1000:.0f}"
              " ms (target: the container adds < 1 s)")
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
