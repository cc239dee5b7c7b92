"""The Bitbucket repository block: a repository URL, a reference and Bitbucket credentials."""

from __future__ import annotations

from pydantic import Field
from stowflow.git.providers import GitProviderRepository

from stowflow_bitbucket.credentials import BitBucketCredentials


class BitBucketRepository(GitProviderRepository):
    """A Bitbucket repository whose files ``get_directory()`` copies through core's git engine."""

    __block_type_name__ = "Bitbucket Repository"

    credentials: BitBucketCredentials | None = Field(
        default=None,
        description="Bitbucket credentials for a private repository; none for a public one.",
    )
