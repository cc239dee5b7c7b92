"""stowflow-bitbucket: Bitbucket credentials, repositories and API client for stowflow."""

from stowflow_bitbucket.credentials import BitBucketCredentials
from stowflow_bitbucket.repository import BitBucketRepository

__all__ = ["BitBucketCredentials", "BitBucketRepository"]
