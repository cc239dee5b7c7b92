"""Writing where nothing can be written (below a regular file): init and a git checkout give
one clear error (both were unexpected FileNotFoundError / FileExistsError)."""

from __future__ import annotations

from pathlib import Path

import pytest
import stowflow.git
from stowflow.cli.init_cmd import init_project
from stowflow.errors import ConfigError, GitError


def test_init_in_a_folder_that_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker.txt"
    blocker.write_text("keep")
    with pytest.raises(ConfigError, match="cannot write the project files"):
        init_project(blocker / "proj", "local", entrypoint="flows/x.py:f")
    assert blocker.read_text() == "keep"


def test_git_pull_into_a_folder_that_cannot_be_written(tmp_path: Path, git_remote) -> None:
    repo = git_remote.create_repo(files={"flows/etl.py": "print('hi')\n"})
    blocker = tmp_path / "blocker.txt"
    blocker.write_text("keep")
    with pytest.raises(GitError, match="cannot check out into"):
        stowflow.git.pull(repo.url, blocker / "code")
    assert blocker.read_text() == "keep"
    stowflow.git.pull(repo.url, tmp_path / "code")  # and a good destination still works
    assert (tmp_path / "code" / "flows" / "etl.py").read_text() == "print('hi')\n"
