"""One git pull, start to finish: credentials, the mirror cache, a fresh checkout.

:func:`pull` is the single implementation behind ``GitRepository.pull`` and the
``git_clone`` step (and behind every provider's repository block).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stowflow.errors import ConfigError
from stowflow.git.checkout import materialise, normalize_directories
from stowflow.git.classify import GitCorruptionError
from stowflow.git.credentials import resolve_git_auth
from stowflow.git.mirror import Mirror, Target
from stowflow.git.runner import GitEnv
from stowflow.git.url import parse_git_url
from stowflow.settings import get_settings

log = logging.getLogger(__name__)

_SHA = re.compile(r"^[0-9a-fA-F]{4,40}$")


@dataclass(frozen=True)
class GitPullResult:
    """What a pull produced: the checkout folder, the exact commit, and its branch."""

    directory: Path
    commit_sha: str
    branch: str | None


def pull(url: str, destination: Path, *, credentials: Any = None, branch: str | None = None,
         commit_sha: str | None = None, include_submodules: bool = False,
         directories: Sequence[str] | str | None = None) -> GitPullResult:
    """Check out ``url`` into ``destination`` (replacing it atomically); return what was pulled.

    ``commit_sha`` (full or short) pins the commit; otherwise ``branch`` (a branch or tag)
    or the default branch is resolved to its current commit. ``directories`` makes a
    sparse checkout that downloads only those folders' files; ``include_submodules``
    fetches submodules shallow. ``credentials`` are any form
    :func:`~stowflow.git.credentials.normalize_credentials` accepts. A damaged mirror is
    rebuilt and the pull retried once.
    """
    git_url = parse_git_url(url)
    if commit_sha is not None and not _SHA.match(commit_sha.strip()):
        raise ConfigError(f"commit_sha {commit_sha!r} is not a hexadecimal commit SHA",
                          hint="give 4 to 40 hexadecimal characters")
    sha = commit_sha.strip() if commit_sha else None
    dirs = normalize_directories(directories)
    settings = get_settings()
    env = GitEnv(git_url, resolve_git_auth(git_url, credentials), timeout=settings.git_timeout)
    mirror = Mirror(git_url, env, root=settings.cache_dir / "git")
    started = time.monotonic()
    destination = Path(destination).absolute()
    for attempt in (1, 2):
        try:
            # The host is asked (and the mirror fetched) on a side thread; meanwhile the
            # commit last fetched is laid out from the cache (see checkout.materialise).
            with ThreadPoolExecutor(1, thread_name_prefix="stowflow-git") as pool:
                guess = mirror.last_known(branch, sha)
                future = pool.submit(_prepare, mirror, branch, sha, dirs)
                directory, resolved = materialise(
                    mirror, git_url, env, future.result, destination, directories=dirs,
                    include_submodules=include_submodules, guess=guess)
        except GitCorruptionError as exc:
            if attempt == 2:
                raise
            log.warning("the git cache of %s is damaged (%s); rebuilding it", git_url, exc)
            with mirror.locked():
                mirror.rebuild()
            continue
        log.info("pulled %s at %s into %s in %.2fs", git_url, resolved.commit_sha[:12],
                 directory, time.monotonic() - started)
        return GitPullResult(directory, resolved.commit_sha, resolved.branch)
    raise AssertionError("unreachable")  # pragma: no cover


def _prepare(mirror: Mirror, branch: str | None, sha: str | None,
             directories: Sequence[str]) -> Target:
    """Make the mirror hold the requested commit, under its lock (see :meth:`Mirror.prepare`)."""
    started = time.monotonic()
    with mirror.locked():
        target = mirror.prepare(branch, sha, directories)
    log.debug("the cache of %s holds %s after %.2fs", mirror.url, target.commit_sha[:12],
              time.monotonic() - started)
    return target
