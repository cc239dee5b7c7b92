"""stowflow-gitlab: GitLab credentials, repositories and API client for stowflow."""

from stowflow_gitlab.credentials import GitLabCredentials
from stowflow_gitlab.repository import GitLabRepository

__all__ = ["GitLabCredentials", "GitLabRepository"]
