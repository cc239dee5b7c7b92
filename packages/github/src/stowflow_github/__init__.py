"""stowflow-github: GitHub credentials, repositories and API client for stowflow."""

from stowflow_github.credentials import GitHubCredentials
from stowflow_github.repository import GitHubRepository

__all__ = ["GitHubCredentials", "GitHubRepository"]
