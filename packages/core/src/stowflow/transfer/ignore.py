"""What a push leaves out: built-in defaults plus a gitignore-syntax ``.stowflowignore``.

:data:`DEFAULT_STOWFLOWIGNORE` is both the text ``stowflow init`` writes and the rules that
always apply; a project's ``.stowflowignore`` adds to them (and may re-include with ``!``).
The engine's own ``.stowflow/`` folder is never pushed, whatever the rules say.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from stowflow.errors import StorageError
from stowflow.transfer.layout import is_meta_relpath
from stowflow.transfer.paths import safe_relpath

DEFAULT_STOWFLOWIGNORE = """\
# Files `stowflow` does not upload (gitignore syntax). These defaults always apply.
# Version control
.git/
.hg/
.svn/
# Virtual environments
.venv/
venv/
env/
.tox/
.nox/
# Python caches and build output
__pycache__/
*.py[cod]
.pytest_cache/
.mypy_cache/
.ruff_cache/
*.egg-info/
# Secrets and local settings
.env
.env.*
# stowflow's own caches
.stowflow/
.stowflow-cache/
# Editors and OS
.DS_Store
.idea/
.vscode/
"""


@dataclass(frozen=True)
class SourceFile:
    """A file found by :func:`walk`: its relative POSIX path, absolute path, size and mode."""

    relpath: str
    path: Path
    size: int
    executable: bool


STOWFLOW_IGNORE = ".stowflowignore"
#: read instead of ``.stowflowignore`` when a project has only this (one coming from prefect)
PREFECT_IGNORE = ".prefectignore"


def ignore_file_path(root: Path, ignore_file: str | None = STOWFLOW_IGNORE) -> Path | None:
    """Return the ignore file that applies to ``root``, or ``None`` when there is none.

    The default ``.stowflowignore`` falls back to a ``.prefectignore`` beside it, so a
    project brought over from prefect keeps its rules until the file is renamed.
    """
    if not ignore_file:
        return None
    candidate = Path(ignore_file)
    path = candidate if candidate.is_absolute() else root / candidate
    if path.is_file():
        return path
    if ignore_file == STOWFLOW_IGNORE and (root / PREFECT_IGNORE).is_file():
        return root / PREFECT_IGNORE
    return None


def load_spec(root: Path, ignore_file: str | None = STOWFLOW_IGNORE) -> pathspec.GitIgnoreSpec:
    """Return the ignore rules for ``root``: the defaults plus its ignore file, if any."""
    lines = DEFAULT_STOWFLOWIGNORE.splitlines()
    path = ignore_file_path(root, ignore_file)
    if path is not None:
        lines += path.read_text(encoding="utf-8").splitlines()
    return pathspec.GitIgnoreSpec.from_lines(lines)


def walk(root: Path, ignore_file: str | None = ".stowflowignore") -> list[SourceFile]:
    """Return every file under ``root`` that a push uploads, sorted by path.

    Ignored folders are not descended into. Symlinked files are followed; symlinked
    folders are not (they could loop). Raises ``StorageError`` if ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise StorageError(f"cannot push '{root}': it is not a folder")
    spec = load_spec(root, ignore_file)
    return sorted(_walk(root, spec), key=lambda f: f.relpath)


def _walk(root: Path, spec: pathspec.GitIgnoreSpec) -> Iterator[SourceFile]:
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        kept = []
        for name in dirnames:
            rel = rel_dir + name
            if (is_meta_relpath(rel) or os.path.islink(os.path.join(dirpath, name))
                    or spec.match_file(rel + "/")):
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in filenames:
            rel = rel_dir + name
            if spec.match_file(rel):
                continue
            path = Path(dirpath, name)
            try:
                st = path.stat()
            except OSError:  # a dangling symlink or a file deleted meanwhile
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            safe_relpath(rel, where=f"'{root}'")
            yield SourceFile(rel, path, st.st_size, bool(st.st_mode & 0o111))
