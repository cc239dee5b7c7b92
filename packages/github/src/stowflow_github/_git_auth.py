"""GitHub as a git host: its name, hosts and how a bare token is sent to it.

Declared with core's :class:`~stowflow.git.hosts.GitHostProvider`; the claiming rules
shared by every host are in :mod:`stowflow.git.providers`. Extra hosts (GitHub Enterprise Server) are
listed in ``STOWFLOW_GITHUB_HOSTS``.
"""

from __future__ import annotations

from stowflow.git.hosts import GitHostProvider

from stowflow_github.credentials import GIT_USERNAME, GitHubCredentials
from stowflow_github.repository import GitHubRepository

GITHUB = GitHostProvider(
    name="github", public_hosts=("github.com",), credentials_type=GitHubCredentials,
    repository_type=GitHubRepository, token_username=GIT_USERNAME,
)

#: The body of the plugin's ``stowflow_git_auth`` hook.
git_auth = GITHUB.git_auth
