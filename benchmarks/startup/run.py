"""Benchmark: start-up cost of the CLI and of importing a provider's steps module.

Each command runs in a fresh interpreter (this one's ``sys.executable``), interleaved
round by round with the baseline ``python -c pass``, so a busy machine slows both alike.
Reported: the median and the minimum wall time of each and the median CPU time (user +
system, which a busy machine disturbs less), with the ratios of the medians to the
baseline's (issue 20's targets: ``--help`` <= 20x, a steps import <= 15x).

``--before TREE`` also runs every command (``before: ...``) against the packages of another
checkout of stowflow (``TREE/packages/*/src`` put first on ``PYTHONPATH``), interleaved in
the same rounds, so old and new code are compared on the same busy machine.

Run: ``.nox/tests/bin/python benchmarks/startup/run.py [--quick] [--before /tmp/old-tree]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

GROUPS = ("block", "storage", "deployment", "flow-run", "work-pool", "worker", "variable")
PROVIDERS = ("stowflow_aws", "stowflow_gcp", "stowflow_azure")


def commands() -> dict[str, list[str]]:
    """Return label -> argv (after the interpreter) of everything measured."""
    cli = ["-c", "from stowflow.cli import main; main()"]
    wanted = {"python -c pass": ["-c", "pass"], "stowflow --help": [*cli, "--help"]}
    for group in GROUPS:
        wanted[f"stowflow {group} --help"] = [*cli, group, "--help"]
    for provider in PROVIDERS:
        if importlib.util.find_spec(provider) is not None:
            wanted[f"import {provider}.deployments.steps"] = [
                "-c", f"import {provider}.deployments.steps"]
    return wanted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--python", default=sys.executable, help="interpreter to measure")
    parser.add_argument("--before", type=Path, help="another checkout to compare against")
    args = parser.parse_args()
    rounds = 5 if args.quick else 15
    # Measured as installed code runs: with bytecode caches (a pip install compiles them;
    # PYTHONDONTWRITEBYTECODE, set in some shells, would make every round compile every
    # module again). One untimed round writes the caches.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    wanted: dict[str, tuple[list[str], dict[str, str]]] = {
        label: (argv, env) for label, argv in commands().items()}
    if args.before is not None:
        path = os.pathsep.join(str(src) for src in sorted(args.before.glob("packages/*/src")))
        before_env = {**env, "PYTHONPATH": path}
        wanted.update({f"before: {label}": (argv, before_env)
                       for label, argv in commands().items() if label != "python -c pass"})
    for argv, child_env in wanted.values():
        subprocess.run([args.python, *argv], check=True, stdout=subprocess.DEVNULL, env=child_env)
    times: dict[str, list[float]] = {label: [] for label in wanted}
    cpu: dict[str, list[float]] = {label: [] for label in wanted}
    for _ in range(rounds):
        for label, (argv, env) in wanted.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run([args.python, *argv], check=True, stdout=subprocess.DEVNULL, env=env)
            times[label].append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[label].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    base = statistics.median(times["python -c pass"])
    base_cpu = statistics.median(cpu["python -c pass"])
    print(f"rounds: {rounds}; interpreter {args.python}; load {os.getloadavg()[0]:.1f}")
    print(f"{'':<44} {'wall median':>12} {'wall min':>9} {'ratio':>6} {'cpu median':>11} {'ratio':>6}")
    for label, values in times.items():
        median, spent = statistics.median(values), statistics.median(cpu[label])
        print(f"{label:<44} {median * 1000:9.1f} ms {min(values) * 1000:6.1f} ms"
              f" {median / base:5.1f}x {spent * 1000:8.1f} ms {spent / base_cpu:5.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
