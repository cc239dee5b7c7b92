"""Materialising a commit as a fresh checkout, then swapping it into the destination.

Every pull builds a new working tree in a temporary sibling of the destination — a small
repository whose objects are borrowed from the mirror (git "alternates", as ``git clone
--shared`` does), its ``origin`` the repository URL without credentials — checks the commit
out (sparse in cone mode for ``directories``), fetches submodules shallow, and only then
swaps it into place with the sync engine's :func:`~stowflow.transfer.materialise.swap_in`
(the one folder swap in stowflow). A failure at any step removes the temporary tree and leaves the
previous destination exactly as it was.

The checkout's history commands (``git log``) read objects from the node's mirror; the
files themselves never depend on it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from stowflow.errors import ConfigError
from stowflow.git.mirror import Mirror, Target, config_quote
from stowflow.git.runner import GitEnv, run_git
from stowflow.git.url import GitURL
from stowflow.transfer.materialise import swap_in


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
        swap_in(tmp, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return destination
