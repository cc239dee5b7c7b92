"""Which git credentials are Bitbucket's, and what Bitbucket expects with a bare token.

The rules shared by every provider are in :mod:`stowflow.git.providers`; this module only
says which hosts are Bitbucket's and how a bare token is sent to them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from stowflow.git.auth import GitAuth
from stowflow.git.providers import BareToken, claim_git_credentials
from stowflow.settings import names

from stowflow_bitbucket.credentials import TOKEN_USERNAME, BitBucketCredentials, split_token

PROVIDER = "bitbucket"
PUBLIC_HOSTS = frozenset({"bitbucket.org"})


class BitbucketSettings(BaseSettings):
    """Settings of the Bitbucket plugin, read from ``STOWFLOW_BITBUCKET_*``."""

    model_config = SettingsConfigDict(env_prefix="STOWFLOW_BITBUCKET_", extra="ignore")

    hosts: str | None = Field(
        default=None,
        description="Comma-separated extra hosts (Bitbucket Server / Data Center) whose "
        "bare tokens are sent the Bitbucket way.",
    )


def bitbucket_hosts() -> set[str]:
    """Return bitbucket.org plus the hosts listed in ``STOWFLOW_BITBUCKET_HOSTS`` (read now)."""
    return set(PUBLIC_HOSTS) | names(BitbucketSettings().hosts)


def token_auth(token: BareToken, url: str) -> GitAuth:
    """Send a bare token as Bitbucket wants it.

    ``x-token-auth:<token>`` is split as written; a username given with the token is sent
    with it (an app password, a Server token); otherwise the token is a Cloud access
    token, sent as the password of ``x-token-auth``.
    """
    prefixed, secret = split_token(token.token)
    return GitAuth(prefixed or token.username or TOKEN_USERNAME, secret)


def git_auth(url: str, credentials: Any) -> GitAuth | None:
    """Return the GitAuth for ``credentials`` when they are Bitbucket's, else ``None``."""
    return claim_git_credentials(
        url, credentials, provider=PROVIDER, block_type=BitBucketCredentials,
        hosts=bitbucket_hosts, token_auth=token_auth,
    )
