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
from stowflow.git.checkout import materialise, normalize_directories, previous_checkout
from stowflow.git.classify import GitCorruptionError
from stowflow.git.credentials import resolve_git_auth
from stowflow.git.mirror import Mirror
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
            # Looking at the previous checkout is local work; do it while the host answers.
            with ThreadPoolExecutor(1, thread_name_prefix="stowflow-git") as pool:
                previous = pool.submit(previous_checkout, destination, mirror, dirs,
                                       include_submodules)
                with mirror.locked():
                    target = mirror.prepare(branch, sha, dirs)
                state = previous.result()
            fetched = time.monotonic()
            directory = materialise(mirror, git_url, env, target, destination, directories=dirs,
                                    include_submodules=include_submodules, previous=state)
        except GitCorruptionError as exc:
            if attempt == 2:
                raise
            log.warning("the git cache of %s is damaged (%s); rebuilding it", git_url, exc)
            with mirror.locked():
                mirror.rebuild()
            continue
        log.info("pulled %s at %s into %s (fetch %.2fs, checkout %.2fs)", git_url,
                 target.commit_sha[:12], directory, fetched - started,
                 time.monotonic() - fetched)
        return GitPullResult(directory, target.commit_sha, target.branch)
    raise AssertionError("unreachable")  # pragma: no cover
