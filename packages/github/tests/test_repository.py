"""GitHubRepository through core's git engine, against a real git server.

The shared behaviour is core's ``GitProviderRepositorySuite``; what follows it is what only
GitHub has. The ``git_remote`` fixture accepts exactly one credential pair at a time.
"""

from __future__ import annotations

import os

import pytest
from stowflow.errors import UnsafePathError
from stowflow.testing.git_providers import FILES, GitProviderRepositorySuite
from stowflow_github import GitHubCredentials, GitHubRepository

TOKEN = "ghp_p@ss:w/rd%20#+ with spaces"


class TestGitHubRepository(GitProviderRepositorySuite):
    repository_cls = GitHubRepository
    credentials_cls = GitHubCredentials
    token = TOKEN
    username = "x-access-token"
    other_username = "oauth2"  # GitLab's form of the same token

    # --- how get_directory lands files (core's GitProviderRepository, tested once here)
    def test_merges_into_an_existing_folder_replacing_same_named_files(self, private_repo, tmp_path):
        local = tmp_path / "code"
        (local / "flows").mkdir(parents=True)
        (local / "flows" / "etl.py").write_text("old")
        (local / "mine.txt").write_text("kept")
        GitHubRepository(repository_url=private_repo.url, credentials=GitHubCredentials(
            token=TOKEN)).get_directory(local_path=local)
        assert (local / "flows" / "etl.py").read_text() == FILES["flows/etl.py"]
        assert (local / "mine.txt").read_text() == "kept"

    def test_symlinks_stay_links_and_cannot_lead_outside(self, git_remote, tmp_path):
        outside = tmp_path / "outside.txt"
        outside.write_text("not from the repository")
        repo = git_remote.create_repo(files=FILES)
        (repo.work / "link.txt").symlink_to(outside)
        (repo.work / "linkdir").symlink_to(tmp_path)
        repo.commit({}, message="symlinks")
        block = GitHubRepository(repository_url=repo.url)
        out = block.get_directory(local_path=tmp_path / "code")
        assert (out.directory / "link.txt").is_symlink()
        assert os.readlink(out.directory / "link.txt") == str(outside)
        with pytest.raises(UnsafePathError):
            block.get_directory(from_path="linkdir", local_path=tmp_path / "again")
