"""The GitLab repository block: a repository URL, a reference and GitLab credentials."""

from __future__ import annotations

from pydantic import Field
from stowflow.git.providers import GitProviderRepository

from stowflow_gitlab.credentials import GitLabCredentials


class GitLabRepository(GitProviderRepository):
    """A GitLab repository whose files ``get_directory()`` copies through core's git engine."""

    __block_type_name__ = "GitLab Repository"

    credentials: GitLabCredentials | None = Field(
        default=None,
        description="GitLab credentials for a private repository; none for a public one.",
    )
