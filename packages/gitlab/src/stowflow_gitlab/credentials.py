"""The GitLab credentials block: an access token or a deploy token, for git and the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, SecretStr, field_validator
from stowflow.blocks import Block
from stowflow.errors import ConfigError
from stowflow.git.auth import GitAuth
from stowflow.git.providers import check_server_url

if TYPE_CHECKING:
    from gitlab import Gitlab

#: The username GitLab expects with personal, project, group and OAuth access tokens.
GIT_USERNAME = "oauth2"
PUBLIC_URL = "https://gitlab.com"


class GitLabCredentials(Block):
    """A GitLab token: personal, project or group access token, or a deploy token.

    Git sends an access token as the password of ``oauth2``, and a deploy token as the
    password of its own username (``deploy_token_username``). Set ``url`` for a self-managed
    GitLab.
    """

    __block_type_name__ = "GitLab Credentials"

    token: SecretStr = Field(
        description="A personal, project or group access token, or a deploy token.",
    )
    url: str | None = Field(
        default=None,
        description="Base URL of a self-managed GitLab (https://gitlab.example.com); "
        "empty for gitlab.com.",
    )
    deploy_token_username: str | None = Field(
        default=None,
        description="The username of a deploy token (gitlab+deploy-token-N); empty when "
        "`token` is an access token.",
    )

    _check_url = field_validator("url")(check_server_url)

    @field_validator("deploy_token_username")
    @classmethod
    def _check_username(cls, value: str | None) -> str | None:
        if value is not None and ":" in value:
            raise ValueError("deploy_token_username cannot contain ':'")
        return value or None

    def git_auth(self) -> GitAuth:
        """Return the Basic pair git sends to GitLab for this token.

        ``oauth2`` + token for access tokens; the deploy token's username + token for a
        deploy token. Called by the ``stowflow_git_auth`` hook for every fetch.
        """
        return GitAuth(self.deploy_token_username or GIT_USERNAME, self.token.get_secret_value())

    def get_client(self, *, oauth: bool = False, **options: Any) -> Gitlab:
        """Return a python-gitlab ``Gitlab`` client for ``url`` (gitlab.com when empty).

        The token is sent as ``PRIVATE-TOKEN`` (personal, project, group tokens), or as an
        OAuth2 bearer token when ``oauth`` is true. ``options`` go to ``gitlab.Gitlab`` as
        they are (``timeout``, ``ssl_verify``, ``retry_transient_errors``...). A deploy
        token cannot call the GitLab API, so asking for a client with one is an error.
        """
        if self.deploy_token_username:
            raise ConfigError(
                "a GitLab deploy token only works for git and registries, not the GitLab API",
                hint="use a personal, project or group access token for get_client()",
            )
        from gitlab import Gitlab

        token = self.token.get_secret_value()
        options["oauth_token" if oauth else "private_token"] = token
        return Gitlab(self.url or PUBLIC_URL, **options)
