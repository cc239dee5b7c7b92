"""THE git engine: credentials through the environment only, a mirror cache, fresh checkouts.

- :func:`pull` — check a repository out into a folder; returns :class:`GitPullResult`.
- :class:`GitAuth` — what the ``stowflow_git_auth`` hook returns.
- :func:`parse_git_url` / :class:`GitURL` — git URL parsing.
- :func:`resolve_git_auth`, :func:`bare_token` — credentials to a Basic pair (for plugins).
"""

from __future__ import annotations

from stowflow.git.auth import GitAuth
from stowflow.git.credentials import DEFAULT_USERNAME, bare_token, resolve_git_auth
from stowflow.git.pull import GitPullResult, pull
from stowflow.git.url import GitURL, looks_like_git_url, parse_git_url

__all__ = [
    "DEFAULT_USERNAME",
    "GitAuth",
    "GitPullResult",
    "GitURL",
    "bare_token",
    "looks_like_git_url",
    "parse_git_url",
    "pull",
    "resolve_git_auth",
]
