"""The GitHub credentials block: one token for git over HTTPS and for the GitHub API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from stowflow.blocks import Block
from stowflow.git.auth import GitAuth
from stowflow.git.providers import check_server_url

if TYPE_CHECKING:
    from github import Github

#: GitHub ignores the username of a token login; this is the one its docs use for app tokens.
GIT_USERNAME = "x-access-token"
#: The host of github.com's REST API; any other ``url`` is a GitHub Enterprise Server.
DOTCOM_HOSTS = frozenset({"github.com", "api.github.com", "www.github.com"})
DOTCOM_API_URL = "https://api.github.com"


class GitHubCredentials(Block):
    """A GitHub token (personal, fine-grained, app installation or ``GITHUB_TOKEN``).

    Git sends it as the password of the fixed username ``x-access-token``; the API client
    sends it as ``Authorization: token …``. Set ``url`` for GitHub Enterprise Server.
    """

    __block_type_name__ = "GitHub Credentials"

    token: SecretStr = Field(
        description="A GitHub personal access token, fine-grained token or app token.",
    )
    url: str | None = Field(
        default=None,
        description="Base URL of a GitHub Enterprise Server (https://github.example.com); "
        "empty for github.com.",
    )

    _check_url = field_validator("url")(check_server_url)

    def git_auth(self) -> GitAuth:
        """Return the Basic pair git sends to GitHub: ``x-access-token`` and the token.

        Called by the ``stowflow_git_auth`` hook for every fetch with these credentials.
        """
        return GitAuth(GIT_USERNAME, self.token.get_secret_value())

    @property
    def api_url(self) -> str:
        """The REST API base URL: api.github.com, or ``<url>/api/v3`` for Enterprise Server."""
        if self.url is None:
            return DOTCOM_API_URL
        host = (urlsplit(self.url).hostname or "").lower()
        if host in DOTCOM_HOSTS:
            return DOTCOM_API_URL
        if "/api/" in f"{urlsplit(self.url).path}/":
            return self.url
        return f"{self.url}/api/v3"

    def get_client(self, **options: Any) -> Github:
        """Return a PyGithub ``Github`` client authenticated with the token.

        ``options`` go to ``github.Github`` as they are (``timeout``, ``retry``, ``verify``,
        or ``base_url`` to override the API URL derived from ``url``).
        """
        from github import Auth, Github

        options.setdefault("base_url", self.api_url)
        return Github(auth=Auth.Token(self.token.get_secret_value()), **options)
