"""BitBucketRepository through core's git engine, against a real git server.

The shared behaviour is core's ``GitProviderRepositorySuite``; what follows it is what only
Bitbucket has. The ``git_remote`` fixture accepts exactly one credential pair at a time.
"""

from __future__ import annotations

import pytest
from stowflow.errors import GitAuthError
from stowflow.testing import assert_no_secret
from stowflow.testing.git_providers import FILES, GitProviderRepositorySuite
from stowflow_bitbucket import BitBucketCredentials, BitBucketRepository

TOKEN = "ATCTT3x-p@ss:w/rd%20#+ with spaces"


class TestBitBucketRepository(GitProviderRepositorySuite):
    repository_cls = BitBucketRepository
    credentials_cls = BitBucketCredentials
    token = TOKEN
    username = "x-token-auth"
    other_username = "bitbucket-user"  # a username, not x-token-auth

    def test_x_token_auth_written_by_the_user_is_not_doubled(self, private_repo, git_remote, tmp_path):
        creds = BitBucketCredentials(token=f"x-token-auth:{TOKEN}")
        out = BitBucketRepository(repository_url=private_repo.url, credentials=creds).get_directory(
            local_path=tmp_path)
        assert (out.directory / "README.md").exists() and len(out.version) == 40
        assert {r.user for r in git_remote.requests_for(private_repo) if r.status == 200} == {
            "x-token-auth"}

    def test_app_password(self, git_remote, tmp_path):
        repo = git_remote.create_repo(files=FILES)
        git_remote.accept({("alice", TOKEN)})
        creds = BitBucketCredentials(username="alice", password=TOKEN)
        out = BitBucketRepository(repository_url=repo.url, credentials=creds).get_directory(
            local_path=tmp_path)
        assert (out.directory / "README.md").exists() and len(out.version) == 40

    def test_server_username_and_token(self, git_remote, tmp_path, stowflow_home):
        repo = git_remote.create_repo(files=FILES)
        git_remote.accept({("bob", TOKEN)})
        creds = BitBucketCredentials(username="bob", token=TOKEN, url=git_remote.base_url)
        out = BitBucketRepository(repository_url=repo.url, credentials=creds).get_directory(
            local_path=tmp_path / "code")
        assert (out.directory / "README.md").exists() and len(out.version) == 40
        # the same token as a Cloud access token (x-token-auth) is refused by this server
        with pytest.raises(GitAuthError):
            BitBucketRepository(repository_url=repo.url, credentials=BitBucketCredentials(
                token=TOKEN)).get_directory(local_path=tmp_path / "again")
        assert_no_secret(TOKEN, tmp_path, stowflow_home)
