"""``GitRepository``: code in a git repository, pulled through core's git engine.

.. code-block:: python

    GitRepository("https://github.com/org/repo.git", branch="main")
    GitRepository("https://git.example.com/org/private.git",
                  credentials={"access_token": Secret.load("git-token")})
    GitRepository("https://github.com/org/private.git",
                  credentials=GitHubCredentials.load("gh"), directories=["flows"])

``pull()`` checks the repository out (see :func:`stowflow.git.pull`); ``to_pull_step()``
returns the ``git_clone`` step a worker runs, with credentials as block placeholders only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from stowflow.blocks import Block, Secret
from stowflow.errors import ConfigError
from stowflow.git.checkout import normalize_directories
from stowflow.git.url import parse_git_url
from stowflow.placeholders import block_placeholder, is_placeholder
from stowflow.storage.base import PullResult

GIT_CLONE_STEP = "stowflow.deployments.steps.git_clone"
#: Keys of a credentials dict that are names, never secrets, so they may be stored as is.
_PLAIN_KEYS = frozenset({"username", "provider"})

_SAVE_HINT = ("save the token as a Secret block — Secret(value=...).save('git-token') — and "
              "pass credentials=Secret.load('git-token') or "
              "{'access_token': Secret.load('git-token')}")


def _block_placeholder(block: Block, what: str) -> str:
    hint = f"save it first: block.save('name'); {_SAVE_HINT}" if isinstance(block, Secret) else None
    return block_placeholder(block, what, hint=hint)


def credentials_placeholder(credentials: Any) -> Any:
    """Return ``credentials`` as they may be stored in a deployment: placeholders only.

    A saved block becomes its placeholder; a dict keeps ``username`` and ``provider``, and
    every other value must be a saved block (stored as its placeholder) or a placeholder
    already; a plain-string token, any other plain value, or an unsaved block is refused
    with a message saying to save it as a Secret block.
    """
    if credentials is None or is_placeholder(credentials):
        return credentials
    if isinstance(credentials, Block):
        return _block_placeholder(credentials, "the git credentials")
    if isinstance(credentials, dict):
        out: dict[str, Any] = {}
        for key, value in credentials.items():
            if isinstance(value, Block):
                out[key] = _block_placeholder(value, f"credentials[{key!r}]")
            elif is_placeholder(value) or (key in _PLAIN_KEYS and isinstance(value, str)) \
                    or value is None:
                out[key] = value
            else:
                # only names may be stored as they are; anything else may be a secret
                raise ConfigError(
                    f"credentials[{key!r}] is a plain value, which would be stored in the "
                    "deployment as it is", hint=_SAVE_HINT)
        return out
    if isinstance(credentials, str | SecretStr):
        raise ConfigError("a plain-string git token cannot be stored in a deployment",
                          hint=_SAVE_HINT)
    raise ConfigError(f"git credentials of type {type(credentials).__name__} cannot be stored "
                      "in a deployment", hint=_SAVE_HINT)


class GitRepository:
    """A git repository as a code source (a :class:`~stowflow.storage.base.Storage`).

    :param url: ``https://host/org/repo.git``, ``git@host:org/repo.git``, ``ssh://…``, a
        known host's URL without ``.git``, ``file:///srv/repo.git`` or a local path.
        Credentials in the URL are refused.
    :param credentials: ``None``; a Secret block; ``{"access_token": Secret, "username"?,
        "provider"?}``; a provider credentials block; (for ``pull`` only) a plain token.
    :param name: the folder name of the checkout (default: the repository name).
    :param branch: a branch or tag (default: the repository's default branch).
    :param commit_sha: a full or short commit SHA to pin (wins over ``branch``).
    :param include_submodules: also check out submodules (shallow, same credentials on
        the same host).
    :param directories: only these folders (sparse checkout; other files are not fetched).
    """

    def __init__(self, url: str, credentials: Any = None, name: str | None = None,
                 branch: str | None = None, commit_sha: str | None = None,
                 include_submodules: bool = False,
                 directories: Sequence[str] | str | None = None) -> None:
        self._url = parse_git_url(url)
        # a local path is kept absolute, so a deployment made from it works from any folder
        self.url = self._url.url if self._url.is_local else url.strip()
        self.credentials = credentials
        self.name = name or self._url.name
        self.branch = branch
        self.commit_sha = commit_sha
        self.include_submodules = include_submodules
        self.directories = normalize_directories(directories) or None
        #: The commit the last ``pull`` checked out.
        self.last_commit_sha: str | None = None

    @property
    def destination(self) -> Path:
        """Where ``pull()`` puts the checkout by default: ``<cwd>/<name>``."""
        return Path.cwd() / self.name

    def pull(self, destination: Path | None = None) -> PullResult:
        """Check the repository out into ``destination`` (default ``<cwd>/<name>``).

        Replaces ``destination`` atomically; returns the folder and the commit SHA as
        :attr:`PullResult.version`. Raises a :class:`~stowflow.errors.GitError` subclass
        (authentication failed, repository or ref not found, unreachable, timeout).
        """
        from stowflow.git.pull import pull

        result = pull(self.url, Path(destination) if destination else self.destination,
                      credentials=self.credentials, branch=self.branch,
                      commit_sha=self.commit_sha, include_submodules=self.include_submodules,
                      directories=self.directories)
        self.last_commit_sha = result.commit_sha
        return PullResult(result.directory, result.commit_sha)

    def to_pull_step(self) -> dict[str, Any]:
        """Return the ``git_clone`` step reproducing this repository on a worker.

        Credentials appear only as block placeholders; a plain-string token raises
        :class:`~stowflow.errors.ConfigError`. Every setting is kept.
        """
        kwargs: dict[str, Any] = {"repository": self.url}
        if self.branch:
            kwargs["branch"] = self.branch
        if self.commit_sha:
            kwargs["commit_sha"] = self.commit_sha
        if self.include_submodules:
            kwargs["include_submodules"] = True
        if self.directories:
            kwargs["directories"] = list(self.directories)
        if self.credentials is not None:
            kwargs["credentials"] = credentials_placeholder(self.credentials)
        if self.name != self._url.name:
            kwargs["clone_directory_name"] = self.name
        return {GIT_CLONE_STEP: kwargs}

    def describe(self) -> str:
        """Return ``url`` with the branch or commit, e.g. ``https://h/o/r.git@main``."""
        ref = self.commit_sha or self.branch
        return f"{self.url}@{ref}" if ref else self.url

    def __repr__(self) -> str:
        return f"GitRepository({self.describe()!r})"
