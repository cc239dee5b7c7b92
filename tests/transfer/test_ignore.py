"""What a push leaves out: built-in defaults, .stowflowignore, and the engine's own folder."""

from __future__ import annotations

import os
from pathlib import Path

from stowflow.transfer import DEFAULT_STOWFLOWIGNORE
from stowflow.transfer.ignore import walk


def _touch(root: Path, *paths: str) -> None:
    for rel in paths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)


def test_defaults_and_project_rules(tmp_path: Path) -> None:
    _touch(tmp_path, "flow.py", ".git/HEAD", ".venv/bin/python", "venv/x", "pkg/__pycache__/m.pyc",
           "pkg/m.py", ".env", ".env.local", ".stowflow/HEAD", "logs/a.log", "logs/keep.log",
           "data/big.csv", "node/.DS_Store")
    (tmp_path / ".stowflowignore").write_text("*.log\n!keep.log\ndata/\n")
    assert [f.relpath for f in walk(tmp_path)] == [
        ".stowflowignore", "flow.py", "logs/keep.log", "pkg/m.py"]


def test_exec_bits_and_symlinks(tmp_path: Path) -> None:
    _touch(tmp_path, "run.sh", "real/a.txt")
    os.chmod(tmp_path / "run.sh", 0o755)
    (tmp_path / "link.txt").symlink_to(tmp_path / "real/a.txt")
    (tmp_path / "loop").symlink_to(tmp_path)  # a symlinked folder is not followed
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    found = {f.relpath: f for f in walk(tmp_path, None)}
    assert sorted(found) == ["link.txt", "real/a.txt", "run.sh"]
    assert found["run.sh"].executable and not found["link.txt"].executable


def test_default_text_is_what_init_writes() -> None:
    assert ".git/" in DEFAULT_STOWFLOWIGNORE and ".env" in DEFAULT_STOWFLOWIGNORE
    assert "__pycache__/" in DEFAULT_STOWFLOWIGNORE and ".venv/" in DEFAULT_STOWFLOWIGNORE
