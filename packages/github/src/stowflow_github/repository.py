"""The GitHub repository block: a repository URL, a reference and GitHub credentials."""

from __future__ import annotations

from pydantic import Field
from stowflow.git.providers import GitProviderRepository

from stowflow_github.credentials import GitHubCredentials


class GitHubRepository(GitProviderRepository):
    """A GitHub repository whose files ``get_directory()`` copies through core's git engine."""

    __block_type_name__ = "GitHub Repository"

    credentials: GitHubCredentials | None = Field(
        default=None,
        description="GitHub credentials for a private repository; none for a public one.",
    )
