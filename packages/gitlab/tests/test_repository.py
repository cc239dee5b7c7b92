"""GitLabRepository through core's git engine, against a real git server.

The shared behaviour is core's ``GitProviderRepositorySuite``; what follows it is what only
GitLab has. The ``git_remote`` fixture accepts exactly one credential pair at a time.
"""

from __future__ import annotations

import pytest
from stowflow.errors import GitAuthError
from stowflow.testing.git_providers import FILES, GitProviderRepositorySuite
from stowflow_gitlab import GitLabCredentials, GitLabRepository

TOKEN = "glpat-p@ss:w/rd%20#+ with spaces"


class TestGitLabRepository(GitProviderRepositorySuite):
    repository_cls = GitLabRepository
    credentials_cls = GitLabCredentials
    token = TOKEN
    username = "oauth2"
    other_username = "x-access-token"  # GitHub's form of the same token

    def test_deploy_token_is_sent_with_its_username(self, git_remote, tmp_path):
        repo = git_remote.create_repo(files=FILES)
        git_remote.accept({("gitlab+deploy-token-9", TOKEN)})
        creds = GitLabCredentials(token=TOKEN, deploy_token_username="gitlab+deploy-token-9")
        out = GitLabRepository(repository_url=repo.url, credentials=creds).get_directory(
            local_path=tmp_path)
        assert (out.directory / "README.md").exists() and len(out.version) == 40
        # the same token as an access token (oauth2) is refused by this server
        with pytest.raises(GitAuthError):
            GitLabRepository(repository_url=repo.url, credentials=GitLabCredentials(token=TOKEN)
                             ).get_directory(local_path=tmp_path / "again")
