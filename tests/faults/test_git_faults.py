"""Git pulls through a faulty network: the new commit whole, or one clear GitError with the
checkout and the mirror cache left usable.

Real ``git http-backend`` (the ``git_remote`` fixture) behind
:class:`stowflow.testing.faults.FaultProxy`. Each round pulls commit 1 through the proxy
with no faults, adds commit 2, turns the faults on and pulls again into the same folder,
then turns them off and pulls once more: that pull must give commit 2 (a fault must not
leave a mirror that later pulls trip over).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from stowflow.errors import GitError
from stowflow.git import pull
from stowflow.testing.conformance import leftovers
from stowflow.testing.faults import FaultProxy

SEEDS = range(4)


def files(version: int) -> dict[str, str]:
    return {f"flows/f{i}.py": f"VERSION = {version}  # {i}\n" * (40 * (i + 1)) for i in range(8)}


def checked_out(dest: Path) -> dict[str, str]:
    return {p.relative_to(dest).as_posix(): p.read_text() for p in sorted(dest.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(dest).parts}


@pytest.mark.parametrize("seed", SEEDS)
def test_git_pull_through_faults_is_whole_or_cleanly_refused(
    seed: int, git_remote: Any, fault_proxy: Callable[..., FaultProxy], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STOWFLOW_GIT_TIMEOUT", "60")  # every git process is bounded
    repo = git_remote.create_repo(files=files(1))
    proxy = fault_proxy(git_remote.base_url, seed=seed, rate=0.0, max_after=1_500)
    url = repo.url.replace(git_remote.base_url, proxy.url)
    dest = tmp_path / "work" / "code"
    pull(url, dest)
    assert checked_out(dest) == files(1)
    second = repo.commit(files(2), "two")

    proxy.rate = 0.8
    try:
        result = pull(url, dest)
        assert result.commit_sha == second and checked_out(dest) == files(2)
    except GitError as exc:
        assert "\n" not in exc.message and "Traceback" not in str(exc)
        assert checked_out(dest) == files(1)  # untouched
    assert leftovers(dest.parent) == []

    proxy.rate = 0.0
    assert pull(url, dest).commit_sha == second and checked_out(dest) == files(2)
    assert sum(proxy.struck.values()) > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_a_first_clone_through_faults_is_whole_or_leaves_no_checkout(
    seed: int, git_remote: Any, fault_proxy: Callable[..., FaultProxy], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # stowflow has no git push: the smart-HTTP paths it uses are the clone and the fetch.
    monkeypatch.setenv("STOWFLOW_GIT_TIMEOUT", "60")
    repo = git_remote.create_repo(files=files(1))
    proxy = fault_proxy(git_remote.base_url, seed=seed, rate=0.6, max_after=1_500)
    url = repo.url.replace(git_remote.base_url, proxy.url)
    dest = tmp_path / "work" / "code"
    try:
        pull(url, dest)
        assert checked_out(dest) == files(1)
    except GitError as exc:
        assert "\n" not in exc.message and "Traceback" not in str(exc)
        assert not dest.exists()  # no half checkout for the next run to trust
    if dest.parent.exists():
        assert leftovers(dest.parent) == []
    proxy.rate = 0.0
    assert checked_out(pull(url, dest).directory) == files(1)
    assert sum(proxy.struck.values()) > 0, (proxy.faults, proxy.struck)
