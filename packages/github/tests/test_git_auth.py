"""The stowflow_git_auth hook: which credentials are GitHub's and what git sends for them."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from pydantic import Field, SecretStr
from stowflow import hookimpl
from stowflow.blocks import Block, Secret
from stowflow.errors import ConfigError, GitAuthError
from stowflow.plugins import get_plugin_manager, reset_plugin_manager
from stowflow.redact import redact
from stowflow.testing import assert_no_secret
from stowflow_github import GitHubCredentials
from stowflow_github._git_auth import git_auth

TOKEN = "ghp_p@ss:w/rd%20#+ with spaces"
REPO = "https://github.com/org/repo.git"
GHE_REPO = "https://ghe.example.com/org/repo.git"
OTHER_REPO = "https://git.example.org/org/repo.git"


def hook(url, credentials):
    return get_plugin_manager().hook.stowflow_git_auth(url=url, credentials=credentials)


def pair(auth):
    return None if auth is None else (auth.username, auth.password)


def test_block_decides_on_any_host():
    creds = GitHubCredentials(token=TOKEN)
    for url in (REPO, GHE_REPO, "https://gitlab.com/org/repo.git"):
        assert pair(hook(url, creds)) == ("x-access-token", TOKEN)


@pytest.mark.parametrize(
    "credentials",
    [
        TOKEN,
        Secret(value=TOKEN),
        {"access_token": TOKEN},
        {"access_token": Secret(value=TOKEN)},
        {"access_token": {"value": TOKEN}},
        {"value": TOKEN},
    ],
    ids=["str", "secret-block", "access-token", "access-token-secret", "templated-secret",
         "templated-secret-alone"],
)
def test_bare_token_on_github_com(credentials):
    assert pair(hook(REPO, credentials)) == ("x-access-token", TOKEN)


def test_bare_token_keeps_a_given_username():
    assert pair(hook(REPO, {"access_token": TOKEN, "username": "octocat"})) == ("octocat", TOKEN)


def test_bare_token_elsewhere_is_not_githubs():
    assert git_auth(OTHER_REPO, TOKEN) is None
    assert git_auth("https://gitlab.com/org/repo.git", TOKEN) is None


def test_settings_hosts_are_claimed(monkeypatch):
    assert git_auth(GHE_REPO, TOKEN) is None
    monkeypatch.setenv("STOWFLOW_GITHUB_HOSTS", "other.example.com, GHE.example.com")
    assert pair(git_auth(GHE_REPO, TOKEN)) == ("x-access-token", TOKEN)
    monkeypatch.setenv("STOWFLOW_GITHUB_HOSTS", "127.0.0.1:9999")
    assert pair(git_auth("http://127.0.0.1:9999/r.git", TOKEN)) == ("x-access-token", TOKEN)
    assert git_auth("http://127.0.0.1:8888/r.git", TOKEN) is None


def test_provider_key_overrides_host():
    assert pair(hook(OTHER_REPO, {"access_token": TOKEN, "provider": "github"})) == (
        "x-access-token", TOKEN)
    assert pair(hook(OTHER_REPO, {"access_token": TOKEN, "provider": "GitHub"})) == (
        "x-access-token", TOKEN)
    # another provider named: never GitHub's, even on github.com
    assert git_auth(REPO, {"access_token": TOKEN, "provider": "gitlab"}) is None


def test_block_data_dict_on_a_github_host():
    data = GitHubCredentials(token=TOKEN).revealed_data()
    assert pair(git_auth(REPO, data)) == ("x-access-token", TOKEN)


class _RivalCredentials(Block):
    """Another provider's block whose data looks exactly like GitHub's."""

    token: SecretStr = Field(description="A token.")
    url: str | None = Field(default=None, description="A server.")


@hookimpl
def stowflow_register_block_types(register):
    register(_RivalCredentials)


@pytest.fixture
def only_github(monkeypatch):
    """Load only the GitHub plugin, so no other block type competes for a dict."""
    monkeypatch.setenv("STOWFLOW_PLUGINS", "github")
    reset_plugin_manager()


def test_block_data_dict_with_own_url_host_when_unambiguous(only_github):
    data = GitHubCredentials(token=TOKEN, url="https://ghe.example.com").revealed_data()
    assert pair(git_auth(GHE_REPO, data)) == ("x-access-token", TOKEN)
    assert git_auth(OTHER_REPO, data) is None  # the url names ghe.example.com, not this host


def test_ambiguous_block_data_dict_needs_a_known_host_or_provider(only_github, monkeypatch):
    get_plugin_manager().register(sys.modules[__name__], name="rival")
    data = GitHubCredentials(token=TOKEN, url="https://ghe.example.com").revealed_data()
    assert git_auth(GHE_REPO, data) is None
    assert pair(git_auth(GHE_REPO, {**data, "provider": "github"})) == ("x-access-token", TOKEN)
    monkeypatch.setenv("STOWFLOW_GITHUB_HOSTS", "ghe.example.com")
    assert pair(git_auth(GHE_REPO, data)) == ("x-access-token", TOKEN)


def test_other_blocks_and_shapes_are_not_githubs():
    assert git_auth(REPO, {"token": TOKEN, "deploy_token_username": "deployer"}) is None
    assert git_auth(REPO, {"username": "u", "password": TOKEN}) is None
    assert git_auth(REPO, 42) is None
    assert git_auth(REPO, {}) is None


def test_provider_github_with_unknown_shape_is_an_error_without_the_secret():
    with pytest.raises(ConfigError, match="provider: github") as info:
        git_auth(REPO, {"provider": "github", "password": TOKEN})
    assert TOKEN not in str(info.value)


def test_username_with_colon_is_refused():
    with pytest.raises(ConfigError, match="contains ':'"):
        git_auth(REPO, {"access_token": TOKEN, "username": "a:b"})


def test_claimed_token_is_registered_with_the_redactor():
    fresh = "a-fresh-token-only-seen-by-the-hook-1"
    assert redact(fresh) == fresh
    git_auth(REPO, {"access_token": fresh})
    assert redact(fresh) == "***"


# --- through git_clone, against a git server that accepts only GitHub's form -------------

GIT_CLONE = "stowflow.deployments.steps.git_clone"


@pytest.fixture
def github_only_repo(git_remote, monkeypatch, tmp_path):
    """A private repository that lets in x-access-token + TOKEN and nothing else."""
    monkeypatch.chdir(tmp_path)
    repo = git_remote.create_repo(files={"flow.py": "print('hi')\n"})
    git_remote.accept({("x-access-token", TOKEN)})
    return repo


def clone(repo, **settings):
    from stowflow.steps import run_steps

    return run_steps([{GIT_CLONE: {"repository": repo.url, **settings}}])


def test_secret_block_through_git_clone_with_host_detection(github_only_repo, monkeypatch,
                                                            caplog, stowflow_home, capsys):
    caplog.set_level(logging.DEBUG)
    Secret(value=TOKEN).save("gh-token")
    token = "{{ stowflow.blocks.secret.gh-token }}"
    # 127.0.0.1 is nobody's host yet: core's default username is refused by the server
    with pytest.raises(GitAuthError) as info:
        clone(github_only_repo, access_token=token)
    assert_no_secret(TOKEN, str(info.value))
    monkeypatch.setenv("STOWFLOW_GITHUB_HOSTS", "127.0.0.1")
    outputs = clone(github_only_repo, access_token=token)
    assert outputs["commit_sha"] == github_only_repo.rev_parse()
    assert (Path(outputs["directory"]) / "flow.py").exists()
    assert_no_secret(TOKEN, repr(outputs), caplog.text, stowflow_home, Path.cwd(),
                     *capsys.readouterr())


def test_secret_block_through_git_clone_with_provider_key(github_only_repo, stowflow_home):
    Secret(value=TOKEN).save("gh-token")
    outputs = clone(github_only_repo, credentials={
        "access_token": "{{ stowflow.blocks.secret.gh-token }}", "provider": "github"})
    assert outputs["commit_sha"] == github_only_repo.rev_parse()
    assert_no_secret(TOKEN, repr(outputs), stowflow_home, Path.cwd())


def test_credentials_block_placeholder_through_git_clone(github_only_repo, monkeypatch,
                                                         stowflow_home):
    GitHubCredentials(token=TOKEN).save("gh")
    placeholder = "{{ stowflow.blocks.github-credentials.gh }}"
    monkeypatch.setenv("STOWFLOW_GITHUB_HOSTS", "127.0.0.1")
    outputs = clone(github_only_repo, credentials=placeholder)
    assert outputs["commit_sha"] == github_only_repo.rev_parse()
    assert_no_secret(TOKEN, repr(outputs), stowflow_home, Path.cwd())


def test_github_enterprise_block_with_its_url(github_only_repo, git_remote, stowflow_home):
    creds = GitHubCredentials(token=TOKEN, url=git_remote.base_url)
    from stowflow.storage import GitRepository

    result = GitRepository(github_only_repo.url, credentials=creds).pull(Path.cwd() / "ghe")
    assert result.version == github_only_repo.rev_parse()
    assert_no_secret(TOKEN, stowflow_home, Path.cwd())
