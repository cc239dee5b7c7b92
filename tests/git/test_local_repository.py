"""Repositories on this machine: ``file://`` URLs and plain paths, with the same cache and pins.

The served repositories of the git server fixture are real bare repositories on disk, so
these tests read the same repositories once over HTTP and once straight from the disk.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from stowflow.errors import ConfigError, GitRefNotFoundError, GitRepositoryNotFoundError
from stowflow.flows import Flow
from stowflow.git import pull
from stowflow.settings import get_settings
from stowflow.steps.git_steps import git_clone
from stowflow.storage import GitRepository, LocalStorage
from stowflow.storage.resolve import resolve
from stowflow.testing.servers.git_http import GitHTTPServer


def git_out(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


def test_git_clone_step_takes_a_file_url(git_remote: GitHTTPServer, workdir: Path) -> None:
    repo = git_remote.create_repo("onprem/shared", {"flows/etl.py": "print('hi')\n"})
    outputs = git_clone(repository=f"file://{repo.path}")
    directory = Path(outputs["directory"])
    assert directory == workdir / "shared"
    assert outputs["commit_sha"] == repo.rev_parse()
    assert (directory / "flows" / "etl.py").read_text() == "print('hi')\n"
    assert git_out("status", "--porcelain", cwd=directory) == ""
    assert git_out("log", "-1", "--format=%H", cwd=directory) == repo.rev_parse()
    assert git_remote.fetch_count(repo) == 0  # read from the disk, not over HTTP


def test_plain_path_follows_the_branch_and_uses_the_cache(git_remote: GitHTTPServer,
                                                          workdir: Path) -> None:
    repo = git_remote.create_repo(files={"a.txt": "1"})
    first = pull(str(repo.path), workdir / "one")
    assert first.commit_sha == repo.rev_parse() and first.branch == "main"
    mirrors = [p for p in (get_settings().cache_dir / "git").iterdir()
               if (p / "HEAD").exists()]
    assert len(mirrors) == 1
    new = repo.commit({"a.txt": "2"})
    second = pull(f"file://{repo.path}", workdir / "two")  # the same mirror, other spelling
    assert second.commit_sha == new
    assert (workdir / "two" / "a.txt").read_text() == "2"
    assert [p for p in (get_settings().cache_dir / "git").iterdir()
            if (p / "HEAD").exists()] == mirrors


def test_pins_branches_and_tags_from_a_local_repository(git_remote: GitHTTPServer,
                                                         workdir: Path) -> None:
    repo = git_remote.create_repo(files={"v.txt": "one"})
    old = repo.rev_parse()
    repo.commit({"v.txt": "two"})
    repo.create_branch("release", old)
    pinned = GitRepository(str(repo.path), commit_sha=old[:10]).pull(workdir / "pinned")
    assert pinned.version == old
    assert (workdir / "pinned" / "v.txt").read_text() == "one"
    branch = GitRepository(f"file://{repo.path}", branch="release").pull(workdir / "rel")
    assert branch.version == old
    with pytest.raises(GitRefNotFoundError):
        pull(str(repo.path), workdir / "missing", branch="no-such-branch")


def test_relative_path_is_stored_absolute(git_remote: GitHTTPServer, workdir: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    repo = git_remote.create_repo(files={"f.py": "x = 1\n"})
    monkeypatch.chdir(repo.path.parent)
    storage = GitRepository(f"./{repo.path.name}")
    step = storage.to_pull_step()
    assert next(iter(step.values()))["repository"] == f"file://{repo.path}"
    monkeypatch.chdir(workdir)
    assert storage.pull().version == repo.rev_parse()


def test_missing_local_repository_and_credentials_are_clear_errors(tmp_path: Path,
                                                                   workdir: Path) -> None:
    with pytest.raises(GitRepositoryNotFoundError):
        pull(str(tmp_path / "nothing-here.git"), workdir / "x")
    with pytest.raises(ConfigError, match="on this machine"):
        pull(str(tmp_path / "nothing-here.git"), workdir / "y", credentials="a-token-value")


def test_from_source_treats_a_file_url_and_a_bare_repository_path_as_git(
        git_remote: GitHTTPServer, workdir: Path, tmp_path: Path) -> None:
    # Before the fix, file:///…/repo.git was claimed as a local folder (the bare repository
    # itself), so from_source looked for flows/etl.py inside the repository's objects.
    repo = git_remote.create_repo("onprem/flows", {"flows/etl.py": FLOW})
    flow = Flow.from_source(f"file://{repo.path}", "flows/etl.py:etl")
    assert flow.name == "etl-on-prem"
    assert isinstance(flow.storage, GitRepository)
    assert flow.storage.last_commit_sha == repo.rev_parse()
    # a bare repository without the .git suffix, as a plain path and as a file:// URL
    plain = tmp_path / "shared" / "flows-repo"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(plain)], check=True,
                   timeout=60)
    assert isinstance(resolve(str(plain)), GitRepository)
    assert isinstance(resolve(f"file://{plain}"), GitRepository)
    assert Flow.from_source(str(plain), "flows/etl.py:etl").name == "etl-on-prem"
    # a folder of code stays a folder used as it is, even with its own .git inside
    code = tmp_path / "code"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(code)], check=True, timeout=60)
    assert isinstance(resolve(str(code)), LocalStorage)
    assert isinstance(resolve(f"file://{code}"), LocalStorage)


FLOW = """from stowflow import flow


@flow(name="etl-on-prem")
def etl() -> None:
    pass
"""
