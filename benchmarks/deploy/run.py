"""Benchmark: what deploying costs, against doing it the naive way, in the same process.

1. Flow metadata. Deploy reads a flow's name and parameter schema from its source with
   ``ast``; the naive way imports the flow (and so all of its dependencies). The flow
   here imports ``boto3`` and ``sqlalchemy``, as a typical ETL flow would. Each is measured
   in a fresh interpreter (imports are cached within one), timed inside it around the one
   call (so start-up is not counted), median of several rounds.
2. Build and push. ``stowflow deploy --all`` of N deployments that share the project's
   build and push steps runs those steps once; the naive way runs them per deployment.
   The push step here sleeps 50 ms (standing for an upload); measured end to end,
   including recording every deployment.
3. Many deployments from one git source. A script deploys N flows with
   ``Flow.from_source(GitRepository(url), ...).deploy(...)`` from one repository (the
   real-size data set of ``benchmarks/realsize.py`` at ``--scale``, plus a flow file,
   served over smart HTTP with Basic auth); stowflow pulls it once and reads every flow
   from that checkout. The baseline is the same script where every call pulls again
   (``sources.forget_pulls()`` before each, i.e. N separate ``from_source`` pulls with a
   warm mirror). Target (issue 20): >= 20x.

Run: ``.venv/bin/python benchmarks/deploy/run.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOW = '''
import boto3
import sqlalchemy
from stowflow import flow

@flow(name="etl")
def etl(bucket: str, day: str = "2024-01-01", limit: int | None = None) -> None:
    """Copy a day of data."""
'''

STEP = '''
import time

def slow_push(**kwargs):
    time.sleep(0.05)
    return {"bucket": "b"}
'''


def _median_inside(call: str, env: dict[str, str], rounds: int) -> float:
    """Median time of ``call`` timed inside a fresh interpreter each round."""
    code = ("import time\nfrom stowflow.flows import load_flow_from_entrypoint, read_flow_metadata\n"
            f"t = time.perf_counter()\n{call}\nprint(time.perf_counter() - t)\n")
    times = []
    for _ in range(rounds):
        out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                             capture_output=True, text=True).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return statistics.median(times)


def bench_metadata(root: Path, rounds: int) -> None:
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text(FLOW)
    env = {**os.environ, "STOWFLOW_HOME": str(root / "home")}
    ours = _median_inside(f"read_flow_metadata('flows/etl.py:etl', {str(root)!r}).parameters.schema()",
                          env, rounds)
    naive = _median_inside(f"load_flow_from_entrypoint('flows/etl.py:etl', {str(root)!r}).parameter_schema",
                           env, rounds)
    print(f"metadata  ast, nothing imported (stowflow) {ours * 1000:8.2f} ms")
    print(f"metadata  import the flow (baseline)       {naive * 1000:8.2f} ms")
    print(f"metadata  ratio baseline/stowflow          {naive / ours:8.1f}x")


def bench_deploy(root: Path, deployments: int) -> None:
    sys.path.insert(0, str(root))
    (root / "bench_steps.py").write_text(STEP)
    (root / "flows").mkdir(exist_ok=True)
    (root / "flows" / "light.py").write_text(
        "from stowflow import flow\n\n@flow\ndef light(n: int = 1):\n    return n\n")
    entries = "".join(f"- {{name: d{i}, entrypoint: flows/light.py:light, work_pool: {{name: p}}}}\n"
                      for i in range(deployments))
    push = "push:\n- bench_steps.slow_push:\n    id: push_code\n"
    (root / "stowflow.yaml").write_text(push + "deployments:\n" + entries)
    os.environ["STOWFLOW_HOME"] = str(root / "home-deploy")
    from stowflow.db import WorkPoolRecord, session
    from stowflow.deployments.deploy import deploy_project

    with session() as db:
        db.add(WorkPoolRecord(name="p"))
    deploy_project(root / "stowflow.yaml", all_=True)  # warm-up: migrations, imports
    started = time.perf_counter()
    report = deploy_project(root / "stowflow.yaml", all_=True)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(deployments):  # the naive way: one deploy per deployment
        deploy_project(root / "stowflow.yaml", [f"d{i}"])
    naive = time.perf_counter() - started
    print(f"deploy    {deployments} deployments, push steps run: {report.step_runs} (naive: {deployments})")
    print(f"deploy    --all once (stowflow)      {ours * 1000:7.1f} ms")
    print(f"deploy    one per deployment (naive) {naive * 1000:7.1f} ms")
    print(f"deploy    ratio naive/stowflow       {naive / ours:7.1f}x")


def bench_git_source(root: Path, deployments: int, scale: float) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import realsize

    os.environ["STOWFLOW_HOME"] = str(root / "home-git")
    from stowflow.db import WorkPoolRecord, session
    from stowflow.flows import Flow, sources
    from stowflow.storage import GitRepository
    from stowflow.testing.servers.git_http import start_git_server

    server = start_git_server(root / "server")
    try:
        files: dict[str, str | bytes | None] = {
            spec.path: data for spec, data in realsize.contents(scale)}
        files["flows/light.py"] = (
            "from stowflow import flow\n\n@flow\ndef light(n: int = 1):\n    return n\n")
        repo = server.create_repo("bench/flows", files)
        server.accept({("bench", "bench-token-0123456789")})
        from pydantic import SecretStr
        from stowflow.blocks import Secret

        Secret(value=SecretStr("bench-token-0123456789")).save("bench-git-token")
        creds = {"access_token": Secret.load("bench-git-token"), "username": "bench"}
        with session() as db:
            db.add(WorkPoolRecord(name="gp"))

        def deploy_all(reuse: bool) -> tuple[float, float]:
            """Return (time in from_source, time in deploy) for the N deployments."""
            in_source = in_deploy = 0.0
            for i in range(deployments):
                if not reuse:
                    sources.forget_pulls()
                started = time.perf_counter()
                flow = Flow.from_source(GitRepository(repo.url, credentials=creds),
                                        "flows/light.py:light")
                between = time.perf_counter()
                flow.deploy(name=f"g{i}", work_pool_name="gp")
                in_source += between - started
                in_deploy += time.perf_counter() - between
            return in_source, in_deploy

        deploy_all(True)  # warm-up: the first pull, migrations, imports
        sources.forget_pulls()
        ours_source, ours_deploy = deploy_all(True)
        naive_source, naive_deploy = deploy_all(False)
    finally:
        server.stop()
    ours, naive = ours_source + ours_deploy, naive_source + naive_deploy
    print(f"git       {deployments} deployments from one repository ({len(files)} files)")
    print(f"git       from_source x{deployments}, one pull (stowflow) {ours_source * 1000:8.1f} ms")
    print(f"git       from_source x{deployments}, a pull each         {naive_source * 1000:8.1f} ms")
    print(f"git       ratio                                {naive_source / ours_source:8.1f}x"
          "   target >= 20x")
    print(f"git       with deploy(): stowflow {ours * 1000:8.1f} ms, a pull each "
          f"{naive * 1000:8.1f} ms, ratio {naive / ours:5.1f}x (deploy() itself: "
          f"{ours_deploy / deployments * 1000:.0f} ms a deployment)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and deployments")
    parser.add_argument("--scale", type=float, default=0.1,
                        help="size of the git repository (1.0 = 5,300 files, 80 MB)")
    parser.add_argument("--only-git", action="store_true", help="only the git-source part")
    args = parser.parse_args()
    rounds, deployments = (3, 5) if args.quick else (7, 20)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.only_git:
            bench_metadata(Path(tmp) / "meta", rounds)
            (Path(tmp) / "deploy").mkdir()
            bench_deploy(Path(tmp) / "deploy", deployments)
        (Path(tmp) / "git").mkdir()
        bench_git_source(Path(tmp) / "git", 20 if args.quick else 100, args.scale)


if __name__ == "__main__":
    main()
