"""Which git credentials are GitHub's, and the username GitHub expects with a bare token.

The rules shared by every provider are in :mod:`stowflow.git.providers`; this module only
says which hosts are GitHub's and how a bare token is sent to them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from stowflow.git.auth import GitAuth
from stowflow.git.providers import BareToken, claim_git_credentials
from stowflow.settings import names

from stowflow_github.credentials import GIT_USERNAME, GitHubCredentials

PROVIDER = "github"
PUBLIC_HOSTS = frozenset({"github.com"})


class GitHubSettings(BaseSettings):
    """Settings of the GitHub plugin, read from ``STOWFLOW_GITHUB_*``."""

    model_config = SettingsConfigDict(env_prefix="STOWFLOW_GITHUB_", extra="ignore")

    hosts: str | None = Field(
        default=None,
        description="Comma-separated extra hosts (GitHub Enterprise Server) whose bare "
        "tokens are sent the GitHub way.",
    )


def github_hosts() -> set[str]:
    """Return github.com plus the hosts listed in ``STOWFLOW_GITHUB_HOSTS`` (read now)."""
    return set(PUBLIC_HOSTS) | names(GitHubSettings().hosts)


def token_auth(token: BareToken, url: str) -> GitAuth:
    """Send a bare token as GitHub wants it: as the password of ``x-access-token``.

    A username given with the token is kept (GitHub accepts any username with a token).
    """
    return GitAuth(token.username or GIT_USERNAME, token.token)


def git_auth(url: str, credentials: Any) -> GitAuth | None:
    """Return the GitAuth for ``credentials`` when they are GitHub's, else ``None``."""
    return claim_git_credentials(
        url, credentials, provider=PROVIDER, block_type=GitHubCredentials,
        hosts=github_hosts, token_auth=token_auth,
    )
