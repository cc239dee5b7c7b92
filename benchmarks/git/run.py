"""Benchmark: stowflow's git pull against ``git clone --depth 1``, over real smart HTTP.

A repository of 2,000 files with 50 commits is served by the test suite's ``git
http-backend`` server on 127.0.0.1 (Basic auth on, so credentials are part of every run).
Measured in the same process, median of several rounds:

- baseline: ``git clone --depth 1`` by hand (credentials through the same extraHeader);
- first pull: an empty cache (fresh ``STOWFLOW_HOME``) — target ≤ 1.2x the baseline;
- second pull, no new commits — target ≥ 5x faster than the first pull;
- pull after one new commit (one file changed);
- a pull with a warm cache into a new, empty folder (what a worker's fresh workspace gets):
  nothing is fetched, but every file is written.

Run: ``.venv/bin/python benchmarks/git/run.py [--quick]``.
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
import time
from collections.abc import Callable
from pathlib import Path

FILES = 2000
COMMITS = 50
USER, TOKEN = "bench", "bench-token-0123456789"


def _median_time(fn: Callable[[int], None], rounds: int) -> float:
    times = []
    for i in range(rounds):
        started = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 3 if args.quick else 7

    base = Path(tempfile.mkdtemp(prefix="stowflow-git-bench-"))
    os.environ["STOWFLOW_HOME"] = str(base / "home")
    from stowflow.git import pull
    from stowflow.testing.servers.git_http import start_git_server

    server = start_git_server(base / "server")
    try:
        print(f"building a repository of {FILES} files and {COMMITS} commits…", flush=True)
        files = {f"pkg{i % 40:02d}/module_{i:04d}.py": f"# module {i}\nVALUE = {i}\n" * 20
                 for i in range(FILES)}
        repo = server.create_repo("bench/repo", files)
        for c in range(1, COMMITS):
            repo.commit({f"pkg{c % 40:02d}/module_{c:04d}.py": f"VALUE = {c} # commit {c}\n"},
                        f"commit {c}")
        server.accept({(USER, TOKEN)})
        header = "Authorization: Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
        clone_env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        clone_env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_COUNT="1",
                         GIT_CONFIG_KEY_0=f"http.{server.base_url}/.extraHeader",
                         GIT_CONFIG_VALUE_0=header)
        work = base / "work"
        work.mkdir()

        def clone(i: int) -> None:
            subprocess.run(["git", "clone", "-q", "--depth", "1", repo.url,
                            str(work / f"clone-{i}")], env=clone_env, check=True, timeout=300)

        def first_pull(i: int) -> None:
            os.environ["STOWFLOW_HOME"] = str(base / f"home-{i}")  # an empty cache each time
            pull(repo.url, work / f"first-{i}", credentials={"access_token": TOKEN,
                                                             "username": USER})

        # warm the OS caches and Python imports once, outside the timings
        clone(-1)
        first_pull(-1)
        # interleaved, so a change in the machine's load hits both sides alike
        clone_times, first_times = [], []
        for i in range(rounds):
            clone_times.append(_median_time(lambda _, i=i: clone(i), 1))
            first_times.append(_median_time(lambda _, i=i: first_pull(i), 1))
        t_clone, t_first = statistics.median(clone_times), statistics.median(first_times)

        os.environ["STOWFLOW_HOME"] = str(base / "home-steady")
        dest = work / "steady"
        creds = {"access_token": TOKEN, "username": USER}
        pull(repo.url, dest, credentials=creds)
        t_second = _median_time(lambda i: pull(repo.url, dest, credentials=creds), rounds)

        # a worker's run: warm mirror, but a new, empty workspace folder every time
        t_new_folder = _median_time(
            lambda i: pull(repo.url, work / f"run-{i}", credentials=creds), rounds)

        def after_commit(i: int) -> None:
            repo.commit({"pkg00/module_0000.py": f"VALUE = 'round {i}'\n"}, f"round {i}")
            started = time.perf_counter()
            result = pull(repo.url, dest, credentials=creds)
            elapsed = time.perf_counter() - started
            assert result.commit_sha == repo.rev_parse()
            after_times.append(elapsed)

        after_times: list[float] = []
        for i in range(rounds):
            after_commit(i)
        t_after = statistics.median(after_times)

        count = sum(1 for p in dest.rglob("*.py"))
        assert count == FILES, count
        print(f"\nrepository: {FILES} files, {COMMITS} commits, smart HTTP with Basic auth; "
              f"median of {rounds} rounds")
        print(f"  git clone --depth 1 (baseline) {t_clone * 1000:8.1f} ms")
        print(f"  first pull (empty cache)       {t_first * 1000:8.1f} ms   "
              f"ratio to clone {t_first / t_clone:5.2f}x  (target <= 1.20x)")
        print(f"  second pull (no new commits)   {t_second * 1000:8.1f} ms   "
              f"{t_first / t_second:5.1f}x faster than first (target >= 5x)")
        print(f"  pull after one new commit      {t_after * 1000:8.1f} ms   "
              f"{t_first / t_after:5.1f}x faster than first")
        print(f"  warm cache, new empty folder   {t_new_folder * 1000:8.1f} ms   "
              f"{t_first / t_new_folder:5.1f}x faster than first (no fetch; all files "
              "written)")
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
