"""Core's built-in hook implementations for the git area.

- ``stowflow_git_auth`` (``trylast``): a bare token for a host no plugin claimed is sent as
  the password of :data:`~stowflow.git.credentials.DEFAULT_USERNAME` (``git``), or of the
  dict's explicit ``username``.
- ``stowflow_storage_for_url``: git URLs (``https://…/repo.git``, known git hosts without
  ``.git``, ``git@host:path``, ``ssh://``, ``git://``, ``file://…/repo.git``) and local
  paths or ``file://`` URLs naming a bare repository become a ``GitRepository``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stowflow.plugins import hookimpl

if TYPE_CHECKING:
    from stowflow.git.auth import GitAuth
    from stowflow.storage.base import Storage

#: ``GitRepository`` keyword arguments a source URL's options may carry.
_REPOSITORY_OPTIONS = ("credentials", "name", "branch", "commit_sha", "include_submodules",
                       "directories")


@hookimpl(trylast=True)
def stowflow_git_auth(url: str, credentials: Any) -> GitAuth | None:
    """Send a bare token (string, Secret, ``{"access_token"}``) as ``git``/explicit username."""
    from stowflow.git.auth import GitAuth
    from stowflow.git.credentials import DEFAULT_USERNAME, bare_token

    found = bare_token(credentials)
    if found is None:
        return None
    token, username = found
    return GitAuth(username or DEFAULT_USERNAME, token)


@hookimpl
def stowflow_storage_for_url(url: str, options: dict[str, Any]) -> Storage | None:
    """Claim git URLs as a :class:`~stowflow.storage.git.GitRepository`."""
    from stowflow.git.url import looks_like_git_url

    if not isinstance(url, str) or not (looks_like_git_url(url) or _names_bare_repository(url)):
        return None
    from stowflow.storage.git import GitRepository

    kwargs = {key: options[key] for key in _REPOSITORY_OPTIONS if key in (options or {})}
    storage: Storage = GitRepository(url, **kwargs)
    return storage


def _names_bare_repository(url: str) -> bool:
    from stowflow.errors import ConfigError
    from stowflow.git.url import is_bare_repository, parse_git_url

    try:
        parsed = parse_git_url(url)
    except ConfigError:
        return False
    return parsed.is_local and is_bare_repository("/" + parsed.path)
