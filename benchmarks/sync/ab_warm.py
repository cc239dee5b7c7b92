"""A/B of the warm pull into a new workspace: two checkouts of the code, one run.

Each checkout's ``packages/core/src`` runs in its own long-lived process (a folder store
on local disk holding the real-size tree of ``benchmarks/realsize.py``, pushed once); the
driver alternates ``cp -al`` of the tree with one warm pull of each (order swapped every
round), so both see the same load. With ``--remove`` each process also removes the
workspace it just pulled (``materialise.remove_tree``, as a worker does after a run) and
that is timed too.

Run (the old code from a worktree, e.g. ``git worktree add /tmp/old <sha>``)::

    .nox/tests/bin/python benchmarks/sync/ab_warm.py /tmp/old . --rounds 11 --remove
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def worker(base: Path, tree: Path) -> None:
    """Serve warm pulls (``pull``) and removals (``rm``) read from stdin, printing seconds."""
    os.environ["STOWFLOW_HOME"] = str(base / "home")
    from run import open_spec
    from stowflow import transfer
    from stowflow.transfer.materialise import remove_tree

    store = open_spec({"kind": "local", "root": str(base / "bucket")})
    transfer.push(tree, store, "engine")
    work = base / "work"
    work.mkdir()
    transfer.pull(store, "engine", work / "steady")
    print("ready", flush=True)
    n = 0
    for line in sys.stdin:
        started = time.perf_counter()
        if line.startswith("rm"):
            remove_tree(work / f"w-{n}")
        else:
            n += 1
            transfer.pull(store, "engine", work / f"w-{n}")
        print(time.perf_counter() - started, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", help="checkout of the code before")
    parser.add_argument("new", help="checkout of the code after")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--remove", action="store_true", help="time remove_tree too")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.worker[0]), Path(args.worker[1]))
        return 0
    import realsize

    base = Path(tempfile.mkdtemp(prefix="stowflow-ab-warm-"))
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        tree = realsize.make_tree(base / "tree", 1.0)
        for label, checkout in (("old", args.old), ("new", args.new)):
            (base / label).mkdir()
            env = dict(os.environ,
                       PYTHONPATH=str(Path(checkout).resolve() / "packages/core/src"))
            procs[label] = subprocess.Popen(
                [sys.executable, __file__, "x", "y", "--worker", str(base / label), str(tree)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for proc in procs.values():
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

        def ask(label: str, command: str) -> float:
            proc = procs[label]
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(command + "\n")
            proc.stdin.flush()
            return float(proc.stdout.readline())

        print(f"load average before: {realsize.load_average()}")
        cp: list[float] = []
        warm: dict[str, list[float]] = {"old": [], "new": []}
        removal: dict[str, list[float]] = {"old": [], "new": []}
        for n in range(args.rounds):
            cp.append(realsize.timed(lambda n=n: subprocess.run(
                ["cp", "-al", str(tree), str(base / f"cp-{n}")], check=True)))
            order = ("old", "new") if n % 2 == 0 else ("new", "old")
            for label in order:
                warm[label].append(ask(label, "pull"))
            if args.remove:
                for label in order:
                    removal[label].append(ask(label, "rm"))
        print(f"load average after: {realsize.load_average()}")
        t_cp = statistics.median(cp)
        print(f"cp -al of the tree: {t_cp * 1000:.1f} ms (median of {args.rounds})")
        for label in ("old", "new"):
            t = statistics.median(warm[label])
            print(f"{label}: warm pull, new workspace {t * 1000:.1f} ms = {t / t_cp:.2f}x cp -al"
                  + (f"; remove_tree {statistics.median(removal[label]) * 1000:.1f} ms"
                     if removal[label] else ""))
        pairs = [n / o for n, o in zip(warm["new"], warm["old"], strict=True)]
        print(f"new / old, warm pull (median of the rounds): {statistics.median(pairs):.2f}")
    finally:
        for proc in procs.values():
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=60)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
