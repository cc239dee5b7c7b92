"""A reusable test suite for git providers' repository blocks (GitHub, GitLab, Bitbucket…).

Every provider's repository block clones through core's git engine, so the same behaviour
is expected of all of them; only the block classes and the username git must send differ.
Subclass :class:`GitProviderRepositorySuite` in a provider's ``tests/test_repository.py``::

    class TestGitHubRepository(GitProviderRepositorySuite):
        repository_cls = GitHubRepository
        credentials_cls = GitHubCredentials
        token = "ghp_p@ss:w/rd%20#+ with spaces"
        username = "x-access-token"        # what git must send with the token
        other_username = "oauth2"          # another provider's form: must be refused

The suite runs against the real ``git_remote`` fixture (core's smart-HTTP git server),
which accepts exactly one (username, password) pair at a time, so a credential sent in
any other form is refused with 401. Provider-specific forms (deploy tokens, app passwords,
self-hosted servers) stay as extra tests in the provider's own file.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stowflow.blocks import Block
from stowflow.errors import GitAuthError, StorageNotFoundError, UnsafePathError
from stowflow.git.providers import GitProviderRepository
from stowflow.testing import assert_no_secret

#: The files of every repository the suite creates.
FILES = {"flows/etl.py": "def etl():\n    return 1\n", "README.md": "# repo\n"}


class GitProviderRepositorySuite:
    """Tests every git provider's repository block must pass; subclass and set the attributes."""

    repository_cls: ClassVar[type[GitProviderRepository]]
    credentials_cls: ClassVar[type[Any]]
    #: A token with characters that break naive URL handling.
    token: ClassVar[str]
    #: The username git must send with ``credentials_cls(token=token)``.
    username: ClassVar[str]
    #: The username another provider would send: the server must refuse it.
    other_username: ClassVar[str]

    def credentials(self) -> Block:
        """Return credentials holding :attr:`token` as a plain access token."""
        return self.credentials_cls(token=self.token)

    def repository(self, url: str, **fields: Any) -> GitProviderRepository:
        """Return the repository block for ``url`` (extra block fields as given)."""
        return self.repository_cls(repository_url=url, **fields)

    @pytest.fixture
    def private_repo(self, git_remote: Any) -> Any:
        """A repository that only ``(username, token)`` may read."""
        repo = git_remote.create_repo(files=FILES)
        git_remote.accept({(self.username, self.token)})
        return repo

    def test_get_directory_with_credentials(self, private_repo: Any, git_remote: Any,
                                            tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                            stowflow_home: Path) -> None:
        caplog.set_level(logging.DEBUG)
        block = self.repository(private_repo.url, credentials=self.credentials())
        out = block.get_directory(local_path=tmp_path / "code").directory
        assert out == tmp_path / "code"
        assert (out / "flows" / "etl.py").read_text() == FILES["flows/etl.py"]
        assert not (out / ".git").exists()
        assert {r.user for r in git_remote.requests_for(private_repo) if r.status == 200} == {
            self.username}
        assert_no_secret(self.token, out, stowflow_home, caplog.text, repr(block))

    def test_from_path_and_reference(self, private_repo: Any, tmp_path: Path) -> None:
        private_repo.commit({"flows/etl.py": "def etl():\n    return 2\n"}, branch="dev")
        block = self.repository(private_repo.url, reference="dev",
                                credentials=self.credentials())
        out = block.get_directory(from_path="flows", local_path=tmp_path / "dev")
        assert sorted(p.name for p in out.directory.iterdir()) == ["etl.py"]
        assert "return 2" in (out.directory / "etl.py").read_text()
        # A retry asks for the commit an earlier copy reported (flow-run retry).
        private_repo.commit({"flows/etl.py": "def etl():\n    return 3\n"}, branch="dev")
        newer = block.get_directory(local_path=tmp_path / "newer")
        assert newer.version != out.version and len(str(out.version)) == 40
        again = block.get_directory(local_path=tmp_path / "again", version=out.version)
        assert again.version == out.version
        assert "return 2" in (tmp_path / "again" / "flows" / "etl.py").read_text()

    def test_saved_block_round_trip(self, private_repo: Any, tmp_path: Path) -> None:
        self.credentials().save("creds")
        self.repository(private_repo.url,
                        credentials=self.credentials_cls.load("creds")).save("repo")
        loaded = Block.load(f"{self.repository_cls.get_block_type_slug()}/repo")
        assert isinstance(loaded, self.repository_cls)
        assert (loaded.get_directory(local_path=tmp_path).directory / "README.md").exists()

    def test_a_token_sent_as_another_provider_would_fails(self, git_remote: Any, tmp_path: Path,
                                                          stowflow_home: Path) -> None:
        repo = git_remote.create_repo(files=FILES)
        git_remote.accept({(self.other_username, self.token)})
        block = self.repository(repo.url, credentials=self.credentials())
        with pytest.raises(GitAuthError) as info:
            block.get_directory(local_path=tmp_path / "code")
        assert not (tmp_path / "code").exists()
        assert_no_secret(self.token, str(info.value), repr(info.value.__cause__), stowflow_home)

    def test_no_credentials_on_a_private_repository_fails(self, private_repo: Any,
                                                          tmp_path: Path) -> None:
        with pytest.raises(GitAuthError):
            self.repository(private_repo.url).get_directory(local_path=tmp_path)

    def test_from_path_must_stay_inside_and_exist(self, private_repo: Any,
                                                  tmp_path: Path) -> None:
        block = self.repository(private_repo.url, credentials=self.credentials())
        with pytest.raises(UnsafePathError):
            block.get_directory(from_path="../..", local_path=tmp_path)
        with pytest.raises(StorageNotFoundError):
            block.get_directory(from_path="nope", local_path=tmp_path)

    def test_repository_url_with_a_token_in_it_is_refused(self) -> None:
        with pytest.raises(ValueError, match="refused") as info:
            self.repository(f"https://x:{'sekrit-tok'}@github.com/o/r.git")
        assert "sekrit-tok" not in str(info.value)

    def test_saved_block_as_a_deployment_source_pulls_on_the_worker(
        self, private_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        stowflow_home: Path,
    ) -> None:
        """from_source(block) records pull_with_block (no secret); the worker step pulls."""
        from stowflow.steps import run_steps
        from stowflow.storage.resolve import resolve

        self.credentials().save("creds")
        self.repository(private_repo.url,
                        credentials=self.credentials_cls.load("creds")).save("code")
        step = resolve(self.repository_cls.load("code")).to_pull_step()
        assert_no_secret(self.token, json.dumps(step))
        workspace = tmp_path / "workspace"
        workspace.mkdir()
        monkeypatch.chdir(workspace)
        outputs = run_steps([step])
        assert (Path(outputs["directory"]) / "flows" / "etl.py").exists()
        assert_no_secret(self.token, repr(outputs), workspace, stowflow_home)
