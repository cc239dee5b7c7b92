"""The stowflow_git_auth hook: which credentials are Bitbucket's and what git sends for them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from stowflow.blocks import Secret
from stowflow.errors import ConfigError, GitAuthError
from stowflow.plugins import get_plugin_manager
from stowflow.redact import redact
from stowflow.testing import assert_no_secret
from stowflow_bitbucket import BitBucketCredentials
from stowflow_bitbucket._git_auth import git_auth

TOKEN = "ATCTT3x-p@ss:w/rd%20#+ with spaces"
REPO = "https://bitbucket.org/workspace/repo.git"
SERVER = "https://bitbucket.example.com"
SERVER_REPO = f"{SERVER}/scm/proj/repo.git"
OTHER_REPO = "https://git.example.org/org/repo.git"


def hook(url, credentials):
    return get_plugin_manager().hook.stowflow_git_auth(url=url, credentials=credentials)


def pair(auth):
    return None if auth is None else (auth.username, auth.password)


def test_blocks_decide_on_any_host():
    for url in (REPO, SERVER_REPO, "https://github.com/org/repo.git"):
        assert pair(hook(url, BitBucketCredentials(token=TOKEN))) == ("x-token-auth", TOKEN)
        app = BitBucketCredentials(username="alice", password=TOKEN)
        assert pair(hook(url, app)) == ("alice", TOKEN)
        server = BitBucketCredentials(username="bob", token=TOKEN, url=SERVER)
        assert pair(hook(url, server)) == ("bob", TOKEN)


@pytest.mark.parametrize("token", [TOKEN, f"x-token-auth:{TOKEN}"], ids=["bare", "prefixed"])
@pytest.mark.parametrize(
    "wrap",
    [str, lambda t: Secret(value=t), lambda t: {"access_token": t}, lambda t: {"value": t},
     lambda t: {"access_token": {"value": t}}],
    ids=["str", "secret-block", "access-token", "templated-secret", "templated-in-dict"],
)
def test_bare_token_on_bitbucket_org_is_x_token_auth_once(token, wrap):
    assert pair(hook(REPO, wrap(token))) == ("x-token-auth", TOKEN)


def test_bare_token_with_username_is_sent_with_it():
    assert pair(hook(REPO, {"access_token": TOKEN, "username": "alice"})) == ("alice", TOKEN)


def test_bare_token_elsewhere_is_not_bitbuckets(monkeypatch):
    assert git_auth(OTHER_REPO, TOKEN) is None
    assert git_auth(SERVER_REPO, TOKEN) is None
    monkeypatch.setenv("STOWFLOW_BITBUCKET_HOSTS", "bitbucket.example.com")
    assert pair(git_auth(SERVER_REPO, {"access_token": TOKEN, "username": "bob"})) == (
        "bob", TOKEN)


def test_provider_key_overrides_host():
    assert pair(hook(OTHER_REPO, {"access_token": TOKEN, "provider": "bitbucket"})) == (
        "x-token-auth", TOKEN)
    assert git_auth(REPO, {"access_token": TOKEN, "provider": "github"}) is None


def test_server_block_data_dict_is_recognised_by_its_url():
    data = BitBucketCredentials(username="bob", token=TOKEN, url=SERVER).revealed_data()
    assert pair(hook(SERVER_REPO, data)) == ("bob", TOKEN)
    assert git_auth(OTHER_REPO, data) is None


def test_cloud_block_data_dicts():
    access = BitBucketCredentials(token=f"x-token-auth:{TOKEN}").revealed_data()
    assert pair(git_auth(REPO, access)) == ("x-token-auth", TOKEN)
    app = BitBucketCredentials(username="alice", password=TOKEN).revealed_data()
    assert pair(git_auth(REPO, app)) == ("alice", TOKEN)
    assert git_auth(OTHER_REPO, app) is None
    assert pair(git_auth(OTHER_REPO, {**app, "provider": "bitbucket"})) == ("alice", TOKEN)


def test_app_password_shape_on_bitbucket_org_without_the_block_fields():
    # {"username", "password"} validates as the Bitbucket block; the host is Bitbucket's
    assert pair(git_auth(REPO, {"username": "alice", "password": TOKEN})) == ("alice", TOKEN)


def test_provider_bitbucket_with_invalid_block_dict_is_an_error_without_the_secret():
    with pytest.raises(ConfigError, match="provider: bitbucket") as info:
        git_auth(REPO, {"provider": "bitbucket", "password": TOKEN})
    assert TOKEN not in str(info.value)


def test_claimed_token_is_registered_with_the_redactor():
    fresh = "a-fresh-bitbucket-token-only-seen-by-the-hook"
    assert redact(fresh) == fresh
    git_auth(REPO, f"x-token-auth:{fresh}")
    assert redact(fresh) == "***"


# --- through git_clone, against a git server that accepts only Bitbucket's form ----------

GIT_CLONE = "stowflow.deployments.steps.git_clone"


@pytest.fixture
def bitbucket_only_repo(git_remote, monkeypatch, tmp_path):
    """A private repository that lets in x-token-auth + TOKEN and nothing else."""
    monkeypatch.chdir(tmp_path)
    repo = git_remote.create_repo(files={"flow.py": "print('hi')\n"})
    git_remote.accept({("x-token-auth", TOKEN)})
    return repo


def clone(repo, **settings):
    from stowflow.steps import run_steps

    return run_steps([{GIT_CLONE: {"repository": repo.url, **settings}}])


@pytest.mark.parametrize("value", [TOKEN, f"x-token-auth:{TOKEN}"], ids=["bare", "prefixed"])
def test_secret_block_through_git_clone_with_host_detection(bitbucket_only_repo, monkeypatch,
                                                            caplog, stowflow_home, value):
    caplog.set_level(logging.DEBUG)
    Secret(value=value).save("bb-token")
    token = "{{ stowflow.blocks.secret.bb-token }}"
    with pytest.raises(GitAuthError) as info:
        clone(bitbucket_only_repo, access_token=token)
    assert_no_secret(TOKEN, str(info.value))
    monkeypatch.setenv("STOWFLOW_BITBUCKET_HOSTS", "127.0.0.1")
    outputs = clone(bitbucket_only_repo, access_token=token)
    assert outputs["commit_sha"] == bitbucket_only_repo.rev_parse()
    assert (Path(outputs["directory"]) / "flow.py").exists()
    assert_no_secret(TOKEN, repr(outputs), caplog.text, stowflow_home, Path.cwd())


@pytest.mark.parametrize("value", [TOKEN, f"x-token-auth:{TOKEN}"], ids=["bare", "prefixed"])
def test_secret_block_through_git_clone_with_provider_key(bitbucket_only_repo, stowflow_home,
                                                          value):
    Secret(value=value).save("bb-token")
    outputs = clone(bitbucket_only_repo, credentials={
        "access_token": "{{ stowflow.blocks.secret.bb-token }}", "provider": "bitbucket"})
    assert outputs["commit_sha"] == bitbucket_only_repo.rev_parse()
    assert_no_secret(TOKEN, repr(outputs), stowflow_home, Path.cwd())


def test_server_block_placeholder_is_recognised_by_its_url(git_remote, monkeypatch, tmp_path,
                                                           stowflow_home):
    monkeypatch.chdir(tmp_path)
    repo = git_remote.create_repo(files={"flow.py": "print('hi')\n"})
    git_remote.accept({("bob", TOKEN)})
    BitBucketCredentials(username="bob", token=TOKEN, url=git_remote.base_url).save("dc")
    outputs = clone(repo, credentials="{{ stowflow.blocks.bitbucket-credentials.dc }}")
    assert outputs["commit_sha"] == repo.rev_parse()
    assert_no_secret(TOKEN, repr(outputs), stowflow_home, Path.cwd())
