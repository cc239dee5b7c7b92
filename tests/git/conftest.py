"""Fixtures for the git engine tests: a work folder, and argv capture of every git process."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh current directory for the test (pulls land in ``<cwd>/<repo name>``)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def git_argv_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Put a ``git`` wrapper first on PATH that logs each invocation's argv, then runs git.

    git starts its own sub-processes (``git clone`` inside ``git submodule update``,
    ``index-pack``, ``remote-http``...) from its exec path, not through PATH, so
    ``GIT_TRACE`` is pointed at the same log: git then appends the argv of every built-in
    and every child process it runs. Together they cover every git process spawned.
    """
    real = shutil.which("git")
    assert real, "git must be installed"
    bindir = tmp_path / "git-wrapper"
    bindir.mkdir()
    log = tmp_path / "git-argv.log"
    log.touch()
    wrapper = bindir / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s " "$@" >> "{log}"\nprintf "\\n" >> "{log}"\n'
                       f'exec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("GIT_TRACE", str(log))
    yield log
