"""Benchmark: what the git provider plugins add on top of core's git engine.

Measured in the same process, as ratios against a baseline:

1. The ``stowflow_git_auth`` hook, called through the plugin manager once per fetch:
   baseline = a bare token for a host no plugin claims (core's ``trylast`` default after
   every provider said no); compared with a provider block, a bare token on a provider's
   host, and a block's templated data dict recognised by its own url (the case that
   validates the dict against every registered block type).
2. ``GitLabRepository.get_directory()`` against ``GitRepository.pull()`` of the same
   repository (1,000 files, cache warm): the price of copying the checkout out.

Run: ``.venv/bin/python benchmarks/git_providers/run.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TOKEN = "glpat-bench-token-0123456789"
FILES = 1000


def _median(fn: Callable[[], object], rounds: int, repeat: int = 1) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeat):
            fn()
        times.append((time.perf_counter() - started) / repeat)
    return statistics.median(times)


def bench_hook(rounds: int, repeat: int) -> None:
    from stowflow.plugins import get_plugin_manager
    from stowflow_gitlab import GitLabCredentials

    hook = get_plugin_manager().hook.stowflow_git_auth
    unknown = "https://git.example.org/org/repo.git"
    gitlab = "https://gitlab.example.com/group/project.git"
    data = GitLabCredentials(token=TOKEN, url="https://gitlab.example.com").revealed_data()
    cases = {
        "bare token, unknown host (core default)": (unknown, TOKEN),
        "GitLabCredentials block": (gitlab, GitLabCredentials(token=TOKEN)),
        "bare token on gitlab.com": ("https://gitlab.com/group/project.git", TOKEN),
        "block data dict, claimed by its url": (gitlab, data),
    }
    baseline = None
    print(f"stowflow_git_auth per call (median of {rounds} x {repeat} calls):")
    for label, (url, creds) in cases.items():
        assert hook(url=url, credentials=creds) is not None, label
        t = _median(lambda u=url, c=creds: hook(url=u, credentials=c), rounds, repeat)
        baseline = baseline or t
        print(f"  {label:42s} {t * 1e6:8.1f} us   {t / baseline:5.2f}x baseline")


def bench_get_directory(base: Path, rounds: int) -> None:
    from stowflow.storage import GitRepository
    from stowflow.testing.servers.git_http import start_git_server
    from stowflow_gitlab import GitLabCredentials, GitLabRepository

    server = start_git_server(base / "server")
    try:
        files = {f"pkg{i % 20:02d}/module_{i:04d}.py": f"VALUE = {i}\n" * 40
                 for i in range(FILES)}
        repo = server.create_repo("bench/project", files)
        server.accept({("oauth2", TOKEN)})
        creds = GitLabCredentials(token=TOKEN)
        GitRepository(repo.url, credentials=creds).pull(base / "warm")  # fill the cache
        counter = iter(range(10_000))

        def pull() -> None:
            GitRepository(repo.url, credentials=creds).pull(base / f"pull-{next(counter)}")

        block = GitLabRepository(repository_url=repo.url, credentials=creds)

        def get_directory() -> None:
            block.get_directory(local_path=base / f"dir-{next(counter)}")

        # interleaved, so load from other processes on the machine hits both alike
        pulls, dirs = [], []
        for _ in range(rounds):
            pulls.append(_median(pull, 1))
            dirs.append(_median(get_directory, 1))
        t_pull, t_dir = statistics.median(pulls), statistics.median(dirs)
        print(f"{FILES} files, warm mirror cache (median of {rounds}):")
        print(f"  GitRepository.pull (baseline)             {t_pull * 1e3:8.1f} ms   1.00x")
        print(f"  GitLabRepository.get_directory            {t_dir * 1e3:8.1f} ms   "
              f"{t_dir / t_pull:5.2f}x baseline")
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 3 if args.quick else 7
    base = Path(tempfile.mkdtemp(prefix="stowflow-provider-bench-"))
    os.environ["STOWFLOW_HOME"] = str(base / "home")
    try:
        bench_hook(rounds, 200 if args.quick else 2000)
        bench_get_directory(base, rounds)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
