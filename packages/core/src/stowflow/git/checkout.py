"""Materialising a commit as a fresh checkout, then swapping it into the destination.

Every pull builds a new working tree in a temporary sibling of the destination — a small
repository whose objects are borrowed from the mirror (git "alternates", as ``git clone
--shared`` does), its ``origin`` the repository URL without credentials — checks the commit
out (sparse in cone mode for ``directories``), fetches submodules shallow, and only then
swaps it into place. A failure at any step removes the temporary tree and leaves the
previous destination exactly as it was.

The checkout's history commands (``git log``) read objects from the node's mirror; the
files themselves never depend on it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

from stowflow.errors import ConfigError, StorageError
from stowflow.git.mirror import Mirror, Target, config_quote
from stowflow.git.runner import GitEnv, run_git
from stowflow.git.url import GitURL

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def normalize_directories(directories: Sequence[str] | str | None) -> list[str]:
    """Return ``directories`` as clean relative POSIX paths; refuse ``..`` and absolute paths."""
    if directories is None:
        return []
    if isinstance(directories, str):
        directories = [directories]
    clean: list[str] = []
    for raw in directories:
        path = str(raw).replace("\\", "/").strip().strip("/")
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if str(raw).startswith("/") or ".." in parts:
            raise ConfigError(f"sparse directory {raw!r} must be a relative path inside the "
                              "repository")
        if parts:
            joined = "/".join(parts)
            if joined not in clean:
                clean.append(joined)
    return clean


def cone_patterns(directories: Sequence[str]) -> str:
    """Return the ``info/sparse-checkout`` file git's cone mode writes for ``directories``."""
    lines = ["/*", "!/*/"]
    parents: list[str] = []
    for directory in sorted(directories):
        parts = directory.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent not in parents:
                parents.append(parent)
                lines += [f"/{parent}/", f"!/{parent}/*/"]
        lines.append(f"/{directory}/")
    return "\n".join(lines) + "\n"


def _prepare_repo(tmp: Path, mirror: Mirror, url: GitURL, target: Target,
                  directories: Sequence[str]) -> None:
    run_git(["init", "-q", "--template=", str(tmp)], action="init of a checkout")
    git_dir = tmp / ".git"
    (git_dir / "objects" / "info").mkdir(parents=True, exist_ok=True)
    (git_dir / "objects" / "info" / "alternates").write_text(
        str((mirror.path / "objects").resolve()) + "\n")
    shallow = mirror.shallow_file()
    if shallow:
        (git_dir / "shallow").write_text(shallow)
    config = ['[remote "origin"]', f"\turl = {config_quote(url.url)}",
              "\tfetch = +refs/heads/*:refs/remotes/origin/*"]
    if directories:
        config += ["[core]", "\tsparseCheckout = true", "\tsparseCheckoutCone = true"]
        (git_dir / "info").mkdir(exist_ok=True)
        (git_dir / "info" / "sparse-checkout").write_text(cone_patterns(directories))
    with open(git_dir / "config", "a", encoding="utf-8") as handle:
        handle.write("\n".join(config) + "\n")
    if target.branch:
        ref = git_dir / "refs" / "remotes" / "origin" / target.branch
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(target.commit_sha + "\n")


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with ``renameat2(RENAME_EXCHANGE)``; False if unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def swap_into(tmp: Path, destination: Path) -> None:
    """Replace ``destination`` by the folder ``tmp`` (same parent), atomically where possible.

    On Linux the two folders are exchanged in one ``renameat2`` call; elsewhere the old
    folder is moved aside first and put back if the second rename fails. The old tree is
    deleted afterwards.
    """
    if destination.is_symlink() or destination.is_file():
        raise StorageError(f"cannot check out into {destination}: it is not a folder",
                           hint="remove it or choose another destination")
    if not destination.exists():
        os.rename(tmp, destination)
        return
    if _exchange(tmp, destination):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous tree
        return
    old = destination.with_name(f".{destination.name}.stowflow-old-{uuid.uuid4().hex[:8]}")
    os.rename(destination, old)
    try:
        os.rename(tmp, destination)
    except OSError:
        os.rename(old, destination)
        raise
    shutil.rmtree(old, ignore_errors=True)


def materialise(mirror: Mirror, url: GitURL, env: GitEnv, target: Target, destination: Path,
                *, directories: Sequence[str] = (), include_submodules: bool = False) -> Path:
    """Check ``target`` out into ``destination`` as a fresh tree; return ``destination``.

    Built in a temporary sibling and swapped in at the end: on any failure the previous
    ``destination`` is untouched. Submodules (``include_submodules``) are fetched shallow,
    recursively, with the same credentials for submodules on the same host.
    """
    destination = destination.absolute()
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{destination.name}.stowflow-",
                                dir=destination.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
        _prepare_repo(tmp, mirror, url, target, directories)
        switch = ["-B", target.branch] if target.branch else ["--detach"]
        run_git(["checkout", "-q", *switch, target.commit_sha], cwd=tmp,
                action=f"checkout of {target.commit_sha[:12]} from {url}")
        if include_submodules:
            run_git(["-c", "submodule.fetchJobs=4", "submodule", "--quiet", "update",
                     "--init", "--recursive", "--depth", "1"], cwd=tmp, env=env,
                    retry=True, action=f"submodule update of {url}")
        swap_into(tmp, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return destination
