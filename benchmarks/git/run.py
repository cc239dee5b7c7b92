"""Benchmark: stowflow's git pull against ``git clone --depth 1``, over real smart HTTP.

The repository is the real-size data set (``benchmarks/realsize.py``: about 5,300 files,
80 MB, nested 6 deep, 50 commits), served by the test suite's ``git http-backend`` server
on 127.0.0.1 with Basic auth on, so credentials are part of every run. Measured in the
same process, median of several rounds, the baseline interleaved with the measured pull
so a change in the machine's load hits both alike:

- baseline: ``git clone --depth 1`` into a new folder (credentials through the same
  extraHeader);
- first pull: an empty cache (fresh ``STOWFLOW_HOME``) — target ≤ 1.0x the baseline;
- warm cache, new workspace (what every run does) — target ≥ 8x faster than the baseline;
- one new commit, new workspace — target ≥ 8x faster than the baseline;
- one new commit, same folder, and a second pull with no new commits (for reference).

Run: ``.nox/tests/bin/python benchmarks/git/run.py [--quick] [--scale 0.1]``.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import realsize
from realsize import load_average, timed

USER, TOKEN = "bench", "bench-token-0123456789"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 5")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="shrink the data set (0.1 = 530 files, 8 MB)")
    args = parser.parse_args()
    rounds = 3 if args.quick else 5

    base = Path(tempfile.mkdtemp(prefix="stowflow-git-bench-"))
    os.environ["STOWFLOW_HOME"] = str(base / "home")
    from stowflow.git import pull
    from stowflow.testing.servers.git_http import start_git_server

    server = start_git_server(base / "server")
    try:
        print("building the real-size repository…", flush=True)
        files = {spec.path: data for spec, data in realsize.contents(args.scale)}
        repo = server.create_repo("bench/repo", files)
        for change in realsize.history(args.scale):
            repo.commit(change, "change")
        server.accept({(USER, TOKEN)})
        header = "Authorization: Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
        clone_env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        clone_env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_COUNT="1",
                         GIT_CONFIG_KEY_0=f"http.{server.base_url}/.extraHeader",
                         GIT_CONFIG_VALUE_0=header)
        creds = {"access_token": TOKEN, "username": USER}
        work = base / "work"
        work.mkdir()
        counter = iter(range(10**6))
        changed = next(iter(files))

        def clone() -> None:
            subprocess.run(["git", "clone", "-q", "--depth", "1", repo.url,
                            str(work / f"clone-{next(counter)}")], env=clone_env, check=True,
                           timeout=600)

        def first_pull() -> None:
            n = next(counter)
            os.environ["STOWFLOW_HOME"] = str(base / f"home-{n}")  # an empty cache each time
            pull(repo.url, work / f"first-{n}", credentials=creds)

        def new_workspace() -> None:
            pull(repo.url, work / f"run-{next(counter)}", credentials=creds)

        print(f"load average before: {load_average()}", flush=True)
        # warm the OS caches and Python imports once, outside the timings
        clone()
        first_pull()
        clone_times, first_times = [], []
        for _ in range(rounds):
            clone_times.append(timed(clone))
            first_times.append(timed(first_pull))
        os.environ["STOWFLOW_HOME"] = str(base / "home-steady")
        dest = work / "steady"
        pull(repo.url, dest, credentials=creds)
        warm_times, commit_new_times, commit_same_times = [], [], []
        for i in range(rounds):
            clone_times.append(timed(clone))
            warm_times.append(timed(new_workspace))
            repo.commit({changed: f"VALUE = 'round {i}'\n"}, f"round {i}")
            commit_new_times.append(timed(new_workspace))
            repo.commit({changed: f"VALUE = 'again {i}'\n"}, f"again {i}")
            commit_same_times.append(timed(lambda: pull(repo.url, dest, credentials=creds)))
        t_second = statistics.median(
            timed(lambda: pull(repo.url, dest, credentials=creds)) for _ in range(rounds))
        assert pull(repo.url, dest, credentials=creds).commit_sha == repo.rev_parse()

        t_clone = statistics.median(clone_times)
        t_first = statistics.median(first_times)
        t_warm = statistics.median(warm_times)
        t_new = statistics.median(commit_new_times)
        t_same = statistics.median(commit_same_times)
        count = sum(1 for p in dest.rglob("*") if p.is_file() and ".git" not in p.parts)
        size = realsize.tree_bytes(dest) / realsize.MB
        print(f"\nrepository: {count} files, {size:.0f} MB, {realsize.COMMITS} commits, "
              f"smart HTTP with Basic auth; median of {rounds} rounds; "
              f"load average after: {load_average()}")
        print(f"  git clone --depth 1 (baseline)  {t_clone * 1000:8.1f} ms")
        rows = [
            ("first pull (empty cache)", t_first, t_first / t_clone, "x the clone",
             "<= 1.0x", t_first / t_clone <= 1.0),
            ("warm cache, new workspace", t_warm, t_clone / t_warm, "x faster than clone",
             ">= 8x", t_clone / t_warm >= 8),
            ("one new commit, new workspace", t_new, t_clone / t_new, "x faster than clone",
             ">= 8x", t_clone / t_new >= 8),
            ("one new commit, same folder", t_same, t_clone / t_same, "x faster than clone",
             "", None),
            ("second pull, nothing new", t_second, t_clone / t_second, "x faster than clone",
             "", None),
        ]
        for label, t, ratio, unit, target, met in rows:
            verdict = "" if met is None else ("MET" if met else "MISS")
            print(f"  {label:31s} {t * 1000:8.1f} ms  {ratio:6.2f}{unit:22s} "
                  f"{target:8s} {verdict}")
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
