"""The Bitbucket credentials block: Cloud access tokens, app passwords, Server tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from stowflow.blocks import Block
from stowflow.errors import ConfigError
from stowflow.git.auth import GitAuth
from stowflow.git.providers import check_server_url, url_host

if TYPE_CHECKING:
    from atlassian import Bitbucket
    from atlassian.bitbucket import Cloud

#: The username Bitbucket Cloud expects with repository, project and workspace access tokens.
TOKEN_USERNAME = "x-token-auth"
TOKEN_PREFIX = f"{TOKEN_USERNAME}:"
CLOUD_HOSTS = frozenset({"bitbucket.org", "www.bitbucket.org", "api.bitbucket.org"})
CLOUD_API_URL = "https://api.bitbucket.org/"


def split_token(token: str) -> tuple[str | None, str]:
    """Split ``x-token-auth:<token>`` (as users often copy it) into its two parts.

    Returns ``("x-token-auth", token)`` for that form and ``(None, token)`` otherwise, so
    the prefix is kept as the username and never sent twice.
    """
    if token.startswith(TOKEN_PREFIX):
        return TOKEN_USERNAME, token[len(TOKEN_PREFIX):]
    return None, token


class BitBucketCredentials(Block):
    """Bitbucket credentials, for Bitbucket Cloud or a Bitbucket Server / Data Center.

    What git sends (HTTP Basic):

    - Cloud (``url`` empty or bitbucket.org), ``token`` alone: a repository, project or
      workspace access token, sent as the password of ``x-token-auth`` (a token written
      ``x-token-auth:<token>`` is split, never prefixed twice).
    - Cloud, ``username`` + ``token``: a user's API token, sent as ``username`` + token.
    - Cloud, ``username`` + ``password``: an app password.
    - Server / Data Center (any other ``url``): ``username`` + ``token`` (an HTTP access
      token) or ``username`` + ``password``.
    """

    __block_type_name__ = "Bitbucket Credentials"

    token: SecretStr | None = Field(
        default=None,
        description="A Bitbucket Cloud access token (optionally written x-token-auth:<token>), "
        "a Cloud API token, or a Server/Data Center HTTP access token.",
    )
    username: str | None = Field(
        default=None,
        description="Bitbucket username: for an app password, a Cloud API token, or any "
        "Server/Data Center login.",
    )
    password: SecretStr | None = Field(
        default=None,
        description="A Bitbucket Cloud app password (or a Server password); used with username.",
    )
    url: str | None = Field(
        default=None,
        description="Base URL of a Bitbucket Server / Data Center (https://bitbucket.example.com); "
        "empty for Bitbucket Cloud.",
    )

    _check_url = field_validator("url")(check_server_url)

    @field_validator("username")
    @classmethod
    def _check_username(cls, value: str | None) -> str | None:
        if value is not None and ":" in value:
            raise ValueError("username cannot contain ':'")
        return value or None

    @model_validator(mode="after")
    def _check_combination(self) -> Self:
        if self.token is None and self.password is None:
            raise ValueError("give a token, or a username and password")
        if self.token is not None and self.password is not None:
            raise ValueError("give either a token or a password, not both")
        if self.password is not None and not self.username:
            raise ValueError("a password needs a username")
        return self

    @property
    def is_cloud(self) -> bool:
        """True for Bitbucket Cloud: no ``url``, or a url on bitbucket.org."""
        return self.url is None or url_host(self.url) in CLOUD_HOSTS

    def _secret(self) -> str:
        secret = self.token if self.token is not None else self.password
        assert secret is not None  # the model validator guarantees one of them
        return secret.get_secret_value()

    def git_auth(self) -> GitAuth:
        """Return the Basic pair git sends to Bitbucket (see the class docstring).

        Called by the ``stowflow_git_auth`` hook for every fetch with these credentials.
        Raises :class:`~stowflow.errors.ConfigError` for a Server token without a username,
        which Bitbucket only accepts as a bearer token.
        """
        prefixed, secret = split_token(self._secret())
        if prefixed:
            return GitAuth(prefixed, secret)
        if self.username:
            return GitAuth(self.username, secret)
        if self.is_cloud:
            return GitAuth(TOKEN_USERNAME, secret)
        raise ConfigError(
            f"Bitbucket Server at {self.url} needs a username with the token for git",
            hint="set username (project and repository tokens work only as bearer tokens, "
            "which git over HTTPS here does not send)",
        )

    def get_client(self, **options: Any) -> Cloud | Bitbucket:
        """Return an atlassian-python-api client: ``Cloud`` for Cloud, ``Bitbucket`` otherwise.

        A token alone is sent as a bearer token; a username with a token or password as
        HTTP Basic. ``options`` go to the client as they are (``timeout``, ``verify_ssl``,
        or ``url`` to override the API URL).
        """
        prefixed, secret = split_token(self._secret())
        if self.username and not prefixed:
            options.update(username=self.username, password=secret)
        else:
            options.update(token=secret)
        if self.is_cloud:
            from atlassian.bitbucket import Cloud

            options.setdefault("url", CLOUD_API_URL)
            return Cloud(**options)
        from atlassian import Bitbucket

        options.setdefault("url", self.url)
        return Bitbucket(**options)
