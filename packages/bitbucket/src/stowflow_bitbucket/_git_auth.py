"""Bitbucket as a git host: its name, hosts and how a bare token is sent to it.

Declared with core's :class:`~stowflow.git.hosts.GitHostProvider`; the claiming rules
shared by every host are in :mod:`stowflow.git.providers`. Extra hosts (Bitbucket Server / Data Center) are
listed in ``STOWFLOW_BITBUCKET_HOSTS``.
"""

from __future__ import annotations

from stowflow.git.auth import GitAuth
from stowflow.git.hosts import GitHostProvider
from stowflow.git.providers import BareToken

from stowflow_bitbucket.credentials import TOKEN_USERNAME, BitBucketCredentials, split_token
from stowflow_bitbucket.repository import BitBucketRepository


def token_auth(token: BareToken, url: str) -> GitAuth:
    """Send a bare token as Bitbucket wants it.

    ``x-token-auth:<token>`` is split as written; a username given with the token is sent
    with it (an app password, a Server token); otherwise the token is a Cloud access
    token, sent as the password of ``x-token-auth``.
    """
    prefixed, secret = split_token(token.token)
    return GitAuth(prefixed or token.username or TOKEN_USERNAME, secret)


BITBUCKET = GitHostProvider(
    name="bitbucket", public_hosts=("bitbucket.org",), credentials_type=BitBucketCredentials,
    repository_type=BitBucketRepository, token_auth=token_auth,
)

#: The body of the plugin's ``stowflow_git_auth`` hook.
git_auth = BITBUCKET.git_auth
