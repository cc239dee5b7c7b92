"""GitLab as a git host: its name, hosts and how a bare token is sent to it.

Declared with core's :class:`~stowflow.git.hosts.GitHostProvider`; the claiming rules
shared by every host are in :mod:`stowflow.git.providers`. Extra hosts (self-managed GitLab) are
listed in ``STOWFLOW_GITLAB_HOSTS``.
"""

from __future__ import annotations

from stowflow.git.hosts import GitHostProvider

from stowflow_gitlab.credentials import GIT_USERNAME, GitLabCredentials
from stowflow_gitlab.repository import GitLabRepository

GITLAB = GitHostProvider(
    name="gitlab", public_hosts=("gitlab.com",), credentials_type=GitLabCredentials,
    repository_type=GitLabRepository, token_username=GIT_USERNAME,
)

#: The body of the plugin's ``stowflow_git_auth`` hook.
git_auth = GITLAB.git_auth
