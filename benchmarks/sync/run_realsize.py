"""Sync-engine benchmark on the real-size data set, against moto's S3 server on 127.0.0.1.

The tree is ``benchmarks/realsize.py`` (fixed seed: about 5,300 files, 80 MB, nested 6
deep), the same bytes ``benchmarks/git`` serves. Measured in one run, median of several
rounds, each baseline interleaved with the phase it is compared with:

- cold pull (empty cache, new folder) against an ``aws s3 sync``-style download of the
  same files stored one object per file: one request per file with 10 threads (boto3
  ``download_file``, as the AWS CLI's default ``max_concurrent_requests``) — target: the
  engine >= 25x faster;
- warm cache into a new workspace (what every run does) against ``cp -al`` of the tree
  (hard links, the floor for laying out a tree) — target: <= 2x ``cp -al``.

``--profile`` prints where one cold and one warm pull spend their time (cProfile);
``--warm-only`` measures only the warm phase and its ``cp -al`` baseline (a minute, not ten).

Run: ``.nox/tests/bin/python benchmarks/sync/run_realsize.py [--quick] [--scale 0.1]``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import realsize
from bench_baseline import boto3_parallel_download
from realsize import load_average, timed
from run import s3_target


def _profile(label: str, fn: Callable[[], object]) -> None:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    print(f"\n--- profile: {label} ---")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(18)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 5")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="shrink the data set (0.1 = 530 files, 8 MB)")
    parser.add_argument("--profile", action="store_true", help="profile one pull of each")
    parser.add_argument("--warm-only", action="store_true",
                        help="only the warm-cache phase and its cp -al baseline (no cold pulls)")
    args = parser.parse_args()
    rounds = 3 if args.quick else 5
    base = Path(tempfile.mkdtemp(prefix="stowflow-sync-real-"))
    os.environ["STOWFLOW_HOME"] = str(base / "home")
    from stowflow import transfer
    from stowflow.transfer.materialise import wait_for_cleanup

    try:
        tree = realsize.make_tree(base / "tree", args.scale)
        files = [p for p in tree.rglob("*") if p.is_file()]
        with s3_target(base) as (store, _, spec):
            import boto3
            from botocore.config import Config

            bucket = spec["url"].removeprefix("s3://")
            options = spec["options"]
            client = boto3.client(
                "s3", endpoint_url=options["endpoint_url"], aws_access_key_id=options["key"],
                aws_secret_access_key=options["secret"],
                region_name=options["client_kwargs"]["region_name"],
                config=Config(max_pool_connections=32))
            print(f"uploading {len(files)} files (engine"
                  f"{'' if args.warm_only else '; and one object per file'})…", flush=True)
            t_push = timed(lambda: transfer.push(tree, store, "engine"))
            if not args.warm_only:
                with ThreadPoolExecutor(16) as pool:
                    list(pool.map(lambda p: client.upload_file(
                        str(p), bucket, f"plain/{p.relative_to(tree).as_posix()}"), files))
            work = base / "work"
            work.mkdir()
            counter = iter(range(10**6))

            def baseline() -> None:
                boto3_parallel_download(client, bucket, "plain", work / f"b-{next(counter)}",
                                        threads=10)

            def cold() -> None:
                n = next(counter)
                os.environ["STOWFLOW_HOME"] = str(base / f"home-{n}")
                transfer.pull(store, "engine", work / f"cold-{n}")

            def warm() -> None:
                transfer.pull(store, "engine", work / f"warm-{next(counter)}")

            def cp_al() -> None:
                subprocess.run(["cp", "-al", str(tree), str(work / f"cp-{next(counter)}")],
                               check=True, timeout=600)

            print(f"load average before: {load_average()}", flush=True)
            base_times, cold_times = [], []
            if not args.warm_only:
                baseline()
                cold()  # warm the OS caches and imports once, outside the timings
                for _ in range(rounds):
                    base_times.append(timed(baseline))
                    cold_times.append(timed(cold))
                    wait_for_cleanup()
            os.environ["STOWFLOW_HOME"] = str(base / "home-steady")
            transfer.pull(store, "engine", work / "steady")
            cp_times, warm_times = [], []
            for _ in range(rounds):
                cp_times.append(timed(cp_al))
                warm_times.append(timed(warm))
            if args.profile:
                if not args.warm_only:
                    _profile("cold pull", cold)
                os.environ["STOWFLOW_HOME"] = str(base / "home-steady")
                _profile("warm pull, new workspace", warm)
        t_cp, t_warm = statistics.median(cp_times), statistics.median(warm_times)
        size = realsize.tree_bytes(tree) / realsize.MB
        print(f"\ntree: {len(files)} files, {size:.0f} MB; moto S3 on 127.0.0.1; median of "
              f"{rounds} rounds; load average after: {load_average()}")
        print(f"  push (engine, once)                      {t_push * 1000:9.1f} ms")
        if cold_times:
            t_base, t_cold = statistics.median(base_times), statistics.median(cold_times)
            print(f"  one request per file, 10 threads (base)  {t_base * 1000:9.1f} ms")
            print(f"  cold pull (engine)                       {t_cold * 1000:9.1f} ms  "
                  f"{t_base / t_cold:6.1f}x faster   target >= 25x  "
                  f"{'MET' if t_base / t_cold >= 25 else 'MISS'}")
        print(f"  cp -al of the tree (base)                {t_cp * 1000:9.1f} ms")
        print(f"  warm cache, new workspace (engine)       {t_warm * 1000:9.1f} ms  "
              f"{t_warm / t_cp:6.2f}x cp -al      target <= 2x   "
              f"{'MET' if t_warm / t_cp <= 2 else 'MISS'}")
    finally:
        wait_for_cleanup()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
