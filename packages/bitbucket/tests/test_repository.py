"""BitBucketRepository.get_directory through core's git engine, against a real git server.

The ``git_remote`` fixture accepts exactly one credential pair at a time, so a credential
sent in any other form (another username) is refused with 401 and the pull fails.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from stowflow.blocks import Block
from stowflow.errors import GitAuthError, StorageNotFoundError, UnsafePathError
from stowflow.testing import assert_no_secret
from stowflow_bitbucket import BitBucketCredentials, BitBucketRepository

TOKEN = "ATCTT3x-p@ss:w/rd%20#+ with spaces"
FILES = {"flows/etl.py": "def etl():\n    return 1\n", "README.md": "# repo\n"}


@pytest.fixture
def private_repo(git_remote):
    repo = git_remote.create_repo(files=FILES)
    git_remote.accept({("x-token-auth", TOKEN)})
    return repo


def test_get_directory_with_credentials(private_repo, git_remote, tmp_path, caplog,
                                        stowflow_home):
    caplog.set_level(logging.DEBUG)
    block = BitBucketRepository(repository_url=private_repo.url,
                             credentials=BitBucketCredentials(token=TOKEN))
    out = block.get_directory(local_path=tmp_path / "code")
    assert out == tmp_path / "code"
    assert (out / "flows" / "etl.py").read_text() == FILES["flows/etl.py"]
    assert not (out / ".git").exists()
    assert {r.user for r in git_remote.requests_for(private_repo) if r.status == 200} == {
        "x-token-auth"}
    assert_no_secret(TOKEN, out, stowflow_home, caplog.text, repr(block))


def test_from_path_and_reference(private_repo, tmp_path):
    private_repo.commit({"flows/etl.py": "def etl():\n    return 2\n"}, branch="dev")
    block = BitBucketRepository(repository_url=private_repo.url, reference="dev",
                             credentials=BitBucketCredentials(token=TOKEN))
    out = block.get_directory(from_path="flows", local_path=tmp_path)
    assert sorted(p.name for p in out.iterdir()) == ["etl.py"]
    assert "return 2" in (out / "etl.py").read_text()


def test_saved_block_round_trip(private_repo, tmp_path):
    BitBucketCredentials(token=TOKEN).save("gh")
    BitBucketRepository(repository_url=private_repo.url,
                     credentials=BitBucketCredentials.load("gh")).save("repo")
    loaded = Block.load("bitbucket-repository/repo")
    assert isinstance(loaded, BitBucketRepository)
    assert (loaded.get_directory(local_path=tmp_path) / "README.md").exists()


def test_a_token_sent_as_another_provider_would_fails(git_remote, tmp_path, stowflow_home):
    repo = git_remote.create_repo(files=FILES)
    git_remote.accept({("bitbucket-user", TOKEN)})  # a username, not x-token-auth
    block = BitBucketRepository(repository_url=repo.url, credentials=BitBucketCredentials(token=TOKEN))
    with pytest.raises(GitAuthError) as info:
        block.get_directory(local_path=tmp_path / "code")
    assert not (tmp_path / "code").exists()
    assert_no_secret(TOKEN, str(info.value), repr(info.value.__cause__), stowflow_home)


def test_no_credentials_on_a_private_repository_fails(private_repo, tmp_path):
    with pytest.raises(GitAuthError):
        BitBucketRepository(repository_url=private_repo.url).get_directory(local_path=tmp_path)


def test_from_path_must_stay_inside_and_exist(private_repo, tmp_path):
    block = BitBucketRepository(repository_url=private_repo.url,
                             credentials=BitBucketCredentials(token=TOKEN))
    with pytest.raises(UnsafePathError):
        block.get_directory(from_path="../..", local_path=tmp_path)
    with pytest.raises(StorageNotFoundError):
        block.get_directory(from_path="nope", local_path=tmp_path)


def test_repository_url_with_a_token_in_it_is_refused():
    with pytest.raises(ValueError, match="refused") as info:
        BitBucketRepository(repository_url=f"https://x:{'sekrit-tok'}@github.com/o/r.git")
    assert "sekrit-tok" not in str(info.value)


def test_x_token_auth_written_by_the_user_is_not_doubled(private_repo, git_remote, tmp_path):
    creds = BitBucketCredentials(token=f"x-token-auth:{TOKEN}")
    out = BitBucketRepository(repository_url=private_repo.url, credentials=creds).get_directory(
        local_path=tmp_path)
    assert (out / "README.md").exists()
    assert {r.user for r in git_remote.requests_for(private_repo) if r.status == 200} == {
        "x-token-auth"}


def test_app_password(git_remote, tmp_path):
    repo = git_remote.create_repo(files=FILES)
    git_remote.accept({("alice", TOKEN)})
    creds = BitBucketCredentials(username="alice", password=TOKEN)
    out = BitBucketRepository(repository_url=repo.url, credentials=creds).get_directory(
        local_path=tmp_path)
    assert (out / "README.md").exists()


def test_server_username_and_token(git_remote, tmp_path, stowflow_home):
    repo = git_remote.create_repo(files=FILES)
    git_remote.accept({("bob", TOKEN)})
    creds = BitBucketCredentials(username="bob", token=TOKEN, url=git_remote.base_url)
    out = BitBucketRepository(repository_url=repo.url, credentials=creds).get_directory(
        local_path=tmp_path / "code")
    assert (out / "README.md").exists()
    # the same token as a Cloud access token (x-token-auth) is refused by this server
    with pytest.raises(GitAuthError):
        BitBucketRepository(repository_url=repo.url, credentials=BitBucketCredentials(
            token=TOKEN)).get_directory(local_path=tmp_path / "again")
    assert_no_secret(TOKEN, tmp_path, stowflow_home)


def test_saved_block_as_a_deployment_source_pulls_on_the_worker(private_repo, tmp_path,
                                                                monkeypatch, stowflow_home):
    """from_source(block) records pull_with_block (no secret); the worker step pulls."""
    from stowflow.steps import run_steps
    from stowflow.storage.resolve import resolve

    BitBucketCredentials(token=TOKEN).save("creds")
    BitBucketRepository(repository_url=private_repo.url,
                     credentials=BitBucketCredentials.load("creds")).save("code")
    step = resolve(BitBucketRepository.load("code")).to_pull_step()
    assert_no_secret(TOKEN, json.dumps(step))
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    monkeypatch.chdir(workspace)
    outputs = run_steps([step])
    assert (Path(outputs["directory"]) / "flows" / "etl.py").exists()
    assert_no_secret(TOKEN, repr(outputs), workspace, stowflow_home)
