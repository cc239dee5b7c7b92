"""Which git credentials are GitLab's, and the username GitLab expects with a bare token.

The rules shared by every provider are in :mod:`stowflow.git.providers`; this module only
says which hosts are GitLab's and how a bare token is sent to them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from stowflow.git.auth import GitAuth
from stowflow.git.providers import BareToken, claim_git_credentials
from stowflow.settings import names

from stowflow_gitlab.credentials import GIT_USERNAME, GitLabCredentials

PROVIDER = "gitlab"
PUBLIC_HOSTS = frozenset({"gitlab.com"})


class GitLabSettings(BaseSettings):
    """Settings of the GitLab plugin, read from ``STOWFLOW_GITLAB_*``."""

    model_config = SettingsConfigDict(env_prefix="STOWFLOW_GITLAB_", extra="ignore")

    hosts: str | None = Field(
        default=None,
        description="Comma-separated extra hosts (self-managed GitLab) whose bare tokens "
        "are sent the GitLab way.",
    )


def gitlab_hosts() -> set[str]:
    """Return gitlab.com plus the hosts listed in ``STOWFLOW_GITLAB_HOSTS`` (read now)."""
    return set(PUBLIC_HOSTS) | names(GitLabSettings().hosts)


def token_auth(token: BareToken, url: str) -> GitAuth:
    """Send a bare token as GitLab wants it: the password of ``oauth2``.

    A username given with the token (a deploy token's) is sent instead of ``oauth2``.
    """
    return GitAuth(token.username or GIT_USERNAME, token.token)


def git_auth(url: str, credentials: Any) -> GitAuth | None:
    """Return the GitAuth for ``credentials`` when they are GitLab's, else ``None``."""
    return claim_git_credentials(
        url, credentials, provider=PROVIDER, block_type=GitLabCredentials,
        hosts=gitlab_hosts, token_auth=token_auth,
    )
