"""The ``git_clone`` pull step (public address ``stowflow.deployments.steps.git_clone``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stowflow.errors import ConfigError


def git_clone(repository: str, branch: str | None = None, commit_sha: str | None = None,
              include_submodules: bool = False, directories: Sequence[str] | None = None,
              access_token: Any = None, credentials: Any = None,
              clone_directory_name: str | None = None) -> dict[str, str]:
    """Check a git repository out into ``<cwd>/<clone_directory_name or repo name>``.

    Runs as a deployment's pull step on the worker. ``credentials`` is a block (or, as the
    templating engine hands a ``{{ stowflow.blocks... }}`` placeholder over, the block's
    data dict) or ``{"access_token": ..., "username"?, "provider"?}``; ``access_token`` is
    a token (a Secret's data ``{"value": ...}``, a Secret block or a string) — give one of
    the two. The folder is replaced atomically; a failed pull leaves the previous one.

    Returns ``{"directory": <absolute path>, "commit_sha": <the commit checked out>}``.
    """
    from stowflow.git.pull import pull
    from stowflow.git.url import parse_git_url

    if access_token is not None and credentials is not None:
        raise ConfigError("git_clone takes access_token or credentials, not both",
                          hint="put the token in credentials={'access_token': ...}")
    creds = {"access_token": access_token} if access_token is not None else credentials
    name = clone_directory_name or parse_git_url(repository).name
    if not name or "/" in name or name in (".", ".."):
        raise ConfigError(f"clone_directory_name {name!r} must be a plain folder name")
    result = pull(repository, Path.cwd() / name, credentials=creds, branch=branch,
                  commit_sha=commit_sha, include_submodules=include_submodules,
                  directories=directories)
    return {"directory": str(result.directory), "commit_sha": result.commit_sha}
