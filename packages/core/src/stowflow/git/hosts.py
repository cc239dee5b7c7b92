"""``GitHostProvider``: everything a git-host plugin declares, in one object.

A git host (GitHub, GitLab, Bitbucket, a Gitea) differs from another only in its name, its
public hosts, its credentials block and how a bare token becomes the username/password
pair git sends. Declare those once::

    GITEA = GitHostProvider(
        name="gitea", public_hosts=("gitea.com",), credentials_type=GiteaCredentials,
        token_username="oauth2", repository_type=GiteaRepository,
    )

and the plugin's hooks are one line each (``GITEA.git_auth(url, credentials)``,
``GITEA.register_block_types(register)``). The claiming rules (which credentials are the
host's) are :func:`stowflow.git.providers.claim_git_credentials`, shared by every host.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from stowflow.git.auth import GitAuth
from stowflow.git.providers import BareToken, claim_git_credentials
from stowflow.settings import names


@dataclass(frozen=True)
class GitHostProvider:
    """A git host as a plugin declares it.

    :param name: what users write in ``provider:`` (``"github"``); also names the setting
        ``STOWFLOW_<NAME>_HOSTS`` (comma-separated extra hosts, e.g. an Enterprise server).
    :param public_hosts: the hosts that are always this provider's (``github.com``).
    :param credentials_type: the credentials block class; it has ``git_auth() -> GitAuth``.
    :param token_username: the username sent with a bare token when none is given.
    :param token_auth: instead of ``token_username``, a function turning a bare token and
        the URL into the pair to send (Bitbucket splits ``x-token-auth:<token>``).
    :param repository_type: the repository block class (a ``GitProviderRepository``).
    """

    name: str
    public_hosts: Iterable[str]
    credentials_type: type[Any]
    token_username: str = "git"
    token_auth: Callable[[BareToken, str], GitAuth] | None = None
    repository_type: type[Any] | None = None

    @property
    def hosts_variable(self) -> str:
        """``STOWFLOW_<NAME>_HOSTS``: the environment variable listing extra hosts."""
        return f"STOWFLOW_{self.name.upper()}_HOSTS"

    def hosts(self) -> set[str]:
        """Return the public hosts plus those listed in :attr:`hosts_variable` (read now)."""
        return set(self.public_hosts) | names(os.environ.get(self.hosts_variable))

    def bare_token_auth(self, token: BareToken, url: str) -> GitAuth:
        """Return the pair git sends for a bare token (a username given with it is kept)."""
        if self.token_auth is not None:
            return self.token_auth(token, url)
        return GitAuth(token.username or self.token_username, token.token)

    def git_auth(self, url: str, credentials: Any) -> GitAuth | None:
        """The body of the plugin's ``stowflow_git_auth`` hook: the pair if ours, else ``None``."""
        return claim_git_credentials(
            url, credentials, provider=self.name, block_type=self.credentials_type,
            hosts=self.hosts, token_auth=self.bare_token_auth,
        )

    def register_block_types(self, register: Callable[[type[Any]], None]) -> None:
        """The body of the plugin's ``stowflow_register_block_types`` hook."""
        register(self.credentials_type)
        if self.repository_type is not None:
            register(self.repository_type)
