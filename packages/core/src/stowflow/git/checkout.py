"""Materialising a commit as a fresh work tree, then swapping it into the destination.

Every pull builds a new work tree in a temporary sibling of the destination: its files are
hard links to the content cache laid out by :mod:`.worktree` (only files the cache lacks
are written, by ``git checkout-index``), its ``.git`` a small repository whose objects are borrowed from the mirror
(git "alternates", as ``git clone --shared`` does), its ``origin`` the repository URL
without credentials, its index written by :mod:`.index` (sparse in cone mode for
``directories``); submodules are fetched shallow; only then is it swapped into place
with the sync engine's :func:`~stowflow.transfer.materialise.swap_in` (the one folder
swap in stowflow). A failure at any step removes the temporary tree and leaves the
previous destination exactly as it was.

The checkout's history commands (``git log``) read objects from the node's mirror; the
files themselves never depend on it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from filelock import FileLock

from stowflow.errors import ConfigError, GitError, StorageError
from stowflow.git import worktree
from stowflow.git.mirror import Mirror, Target, config_quote, write_skeleton
from stowflow.git.runner import GitEnv, run_git
from stowflow.git.url import GitURL
from stowflow.transfer.cache import ContentCache
from stowflow.transfer.materialise import TreeBuilder, swap_in

log = logging.getLogger(__name__)


def normalize_directories(directories: Sequence[str] | str | None) -> list[str]:
    """Return ``directories`` as clean relative POSIX paths; refuse ``..`` and absolute paths.

    Folders inside another listed folder are dropped (the outer one includes them).
    """
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
    # a folder inside another listed folder is already included (cone mode would conflict)
    return [d for d in clean if not any(d.startswith(o + "/") for o in clean)]


def cone_patterns(directories: Sequence[str]) -> str:
    """Return cone-mode ``info/sparse-checkout`` patterns for ``directories`` (as git sets them)."""
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
    git_dir = tmp / ".git"
    write_skeleton(git_dir, bare=False)
    (git_dir / "objects" / "info" / "alternates").write_text(
        str((mirror.path / "objects").resolve()) + "\n")
    shallow = mirror.shallow_file()
    if shallow:
        (git_dir / "shallow").write_text(shallow)
    # the files are hard links that every tree of the same content shares; linking one
    # into a new tree changes its ctime, which must not make git re-read it
    config = ["[core]", "\ttrustctime = false",
              '[remote "origin"]', f"\turl = {config_quote(url.url)}",
              "\tfetch = +refs/heads/*:refs/remotes/origin/*"]
    if directories:
        config += ["[core]", "\tsparseCheckout = true", "\tsparseCheckoutCone = true"]
        (git_dir / "info").mkdir(exist_ok=True)
        (git_dir / "info" / "sparse-checkout").write_text(cone_patterns(directories))
    with open(git_dir / "config", "a", encoding="utf-8") as handle:
        handle.write("\n".join(config) + "\n")
    if target.branch:
        for ref in (git_dir / "refs" / "remotes" / "origin" / target.branch,
                    git_dir / "refs" / "heads" / target.branch):
            ref.parent.mkdir(parents=True, exist_ok=True)
            ref.write_text(target.commit_sha + "\n")
        (git_dir / "HEAD").write_text(f"ref: refs/heads/{target.branch}\n")
    else:
        (git_dir / "HEAD").write_text(target.commit_sha + "\n")


def previous_checkout(destination: Path, mirror: Mirror, directories: Sequence[str],
                      include_submodules: bool) -> tuple[str, str] | None:
    """Return ``(HEAD sha, branch or "(detached)")`` of a clean checkout we made, else None.

    "Clean" is what a fresh checkout of that commit would be: made from this mirror, the
    same sparse set, no submodules unless asked for, and ``git status`` (untracked and
    ignored files included) empty. Such a tree can be reused or updated instead of being
    written again file by file.
    """
    git_dir = destination.absolute() / ".git"
    try:
        alternates = (git_dir / "objects" / "info" / "alternates").read_text().strip()
        sparse_file = git_dir / "info" / "sparse-checkout"
        sparse = sparse_file.read_text() if sparse_file.exists() else None
    except OSError:
        return None
    if alternates != str((mirror.path / "objects").resolve()):
        return None
    if sparse != (cone_patterns(directories) if directories else None):
        return None
    if not include_submodules and (git_dir / "modules").exists():
        return None
    status = run_git(["-c", "core.trustctime=false", "--no-optional-locks", "status",
                      "--porcelain=v2", "--branch", "--ignored=matching",
                      "--untracked-files=all"], cwd=destination, check=False,
                     action="status of the previous checkout", env=mirror.env.local())
    if status.returncode != 0:
        return None
    head = branch = None
    for line in status.stdout.splitlines():
        if not line.startswith("#"):
            return None  # a change, an untracked or an ignored file
        if line.startswith("# branch.oid "):
            head = line.split()[2]
        elif line.startswith("# branch.head "):
            branch = line.split(maxsplit=2)[2]
    return (head, branch) if head and branch else None


def materialise(mirror: Mirror, url: GitURL, env: GitEnv, target: Callable[[], Target],
                destination: Path, *, directories: Sequence[str] = (),
                include_submodules: bool = False, guess: str | None = None) -> tuple[Path, Target]:
    """Lay the commit ``target()`` names out in ``destination`` as a fresh work tree; return
    ``destination`` and that target.

    ``target`` waits for the mirror to hold the commit (:meth:`Mirror.prepare`, which
    proves the credentials). Meanwhile the commit the mirror last fetched (``guess``, see
    :meth:`Mirror.last_known`) is laid out from the content cache in a private (0700)
    temporary sibling; once the target is known only the paths it differs in are
    changed (:func:`.worktree.retarget`), the index is written, the files the cache lacks
    are written by git, submodules (``include_submodules``) are fetched shallow, and the
    tree is swapped in at the end: on any failure — the host's answer included — the
    previous ``destination`` is untouched and the temporary tree removed.

    When ``destination`` already is a clean checkout of the target (see
    :func:`previous_checkout`) it is kept as it is; when it is one of ``guess``, nothing
    is laid out before the host has answered.
    """
    destination = destination.absolute()
    previous = previous_checkout(destination, mirror, directories, include_submodules)
    if previous is not None and previous[0] == guess:
        guess = None  # most likely kept as it is: lay nothing out before the answer
    cache = ContentCache()
    # Pulls into one destination take turns (as object-store pulls do): a new tree's
    # builder sweeps away unfinished trees next to the destination.
    with FileLock(str(cache.lock_path(str(destination)))):
        builder: TreeBuilder | None = None
        layout: worktree.Layout | None = None
        try:
            if guess is not None:
                builder = _builder(destination, cache)
                try:
                    layout = worktree.lay_out(builder, mirror, guess, directories)
                except (GitError, OSError) as exc:  # the mirror changed under us: no guess
                    log.debug("no early layout of %s: %s", guess[:12], exc)
                    builder.abort()
                    builder = None
            resolved = target()
            if previous == (resolved.commit_sha, resolved.branch or "(detached)") \
                    and not include_submodules:
                if builder is not None:
                    builder.abort()
                return destination, resolved
            if builder is None:
                builder = _builder(destination, cache)
            if layout is None:
                layout = worktree.lay_out(builder, mirror, resolved.commit_sha, directories)
            else:
                try:
                    worktree.retarget(layout, mirror, resolved.commit_sha)
                except OSError as exc:  # the tree was changed under us: lay it out again
                    log.debug("relaying %s: %s", resolved.commit_sha[:12], exc)
                    builder.abort()
                    builder = _builder(destination, cache)
                    layout = worktree.lay_out(builder, mirror, resolved.commit_sha,
                                              directories)
            _prepare_repo(builder.root, mirror, url, resolved, directories)
            worktree.finish(layout, mirror)
            if include_submodules:
                run_git(["-c", "submodule.fetchJobs=4", "submodule", "--quiet", "update",
                         "--init", "--recursive", "--depth", "1"], cwd=builder.root, env=env,
                        retry=True, action=f"submodule update of {url}")
            os.chmod(builder.root, 0o755)  # the credentials are proven: for the user's tools
            swap_in(builder.root, destination)
            builder.cache.stamps.flush()  # what the builder noted (abort flushes on failure)
        except BaseException:
            if builder is not None:
                builder.abort()
            raise
    return destination, resolved


def _builder(destination: Path, cache: ContentCache) -> TreeBuilder:
    """Start a private temporary tree next to ``destination`` (0700 until it is swapped in:
    it may be laid out before the host has proven the caller may read the repository)."""
    try:
        builder = TreeBuilder(destination, cache)
    except StorageError as exc:  # the destination's folder is missing, read-only, a file
        raise GitError(
            str(exc.message).replace("cannot pull into", "cannot check out into"),
            hint="check out into a folder you can write to") from exc
    os.chmod(builder.root, 0o700)
    return builder
