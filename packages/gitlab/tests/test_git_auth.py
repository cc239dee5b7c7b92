"""The stowflow_git_auth hook: which credentials are GitLab's and what git sends for them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from stowflow.blocks import Secret
from stowflow.errors import ConfigError, GitAuthError
from stowflow.plugins import get_plugin_manager
from stowflow.redact import redact
from stowflow.testing import assert_no_secret
from stowflow_gitlab import GitLabCredentials
from stowflow_gitlab._git_auth import git_auth

TOKEN = "glpat-p@ss:w/rd%20#+ with spaces"
REPO = "https://gitlab.com/group/project.git"
SELF_MANAGED_REPO = "https://gitlab.example.com/group/project.git"
OTHER_REPO = "https://git.example.org/group/project.git"


def hook(url, credentials):
    return get_plugin_manager().hook.stowflow_git_auth(url=url, credentials=credentials)


def pair(auth):
    return None if auth is None else (auth.username, auth.password)


def test_block_decides_on_any_host():
    for url in (REPO, SELF_MANAGED_REPO, "https://github.com/org/repo.git"):
        assert pair(hook(url, GitLabCredentials(token=TOKEN))) == ("oauth2", TOKEN)
        deploy = GitLabCredentials(token=TOKEN, deploy_token_username="gitlab+deploy-token-3")
        assert pair(hook(url, deploy)) == ("gitlab+deploy-token-3", TOKEN)


@pytest.mark.parametrize(
    "credentials",
    [TOKEN, Secret(value=TOKEN), {"access_token": TOKEN}, {"access_token": {"value": TOKEN}},
     {"value": TOKEN}],
    ids=["str", "secret-block", "access-token", "templated-secret-in-dict", "templated-secret"],
)
def test_bare_token_on_gitlab_com_is_oauth2(credentials):
    assert pair(hook(REPO, credentials)) == ("oauth2", TOKEN)


def test_bare_deploy_token_with_its_username():
    creds = {"access_token": TOKEN, "username": "gitlab+deploy-token-3"}
    assert pair(hook(REPO, creds)) == ("gitlab+deploy-token-3", TOKEN)


def test_bare_token_elsewhere_is_not_gitlabs(monkeypatch):
    assert git_auth(OTHER_REPO, TOKEN) is None
    assert git_auth("https://github.com/org/repo.git", TOKEN) is None
    monkeypatch.setenv("STOWFLOW_GITLAB_HOSTS", "gitlab.example.com")
    assert pair(git_auth(SELF_MANAGED_REPO, TOKEN)) == ("oauth2", TOKEN)
    assert git_auth(OTHER_REPO, TOKEN) is None


def test_provider_key_overrides_host():
    assert pair(hook(OTHER_REPO, {"access_token": TOKEN, "provider": "gitlab"})) == (
        "oauth2", TOKEN)
    assert git_auth(REPO, {"access_token": TOKEN, "provider": "bitbucket"}) is None


def test_block_data_dict_with_self_managed_url_is_recognised_by_its_url():
    # deploy_token_username is a field only GitLab's block has: the dict is unambiguous
    data = GitLabCredentials(token=TOKEN, url="https://gitlab.example.com").revealed_data()
    assert pair(hook(SELF_MANAGED_REPO, data)) == ("oauth2", TOKEN)
    assert git_auth(OTHER_REPO, data) is None


def test_deploy_token_block_data_dict():
    data = GitLabCredentials(token=TOKEN, deploy_token_username="deployer").revealed_data()
    assert pair(git_auth(REPO, data)) == ("deployer", TOKEN)
    assert pair(git_auth(OTHER_REPO, {**data, "provider": "gitlab"})) == ("deployer", TOKEN)


def test_ambiguous_dict_is_not_claimed_by_field_names():
    # {"token"} fits every provider's block: on an unknown host nobody guesses
    assert git_auth(OTHER_REPO, {"token": TOKEN}) is None
    assert git_auth(OTHER_REPO, {"token": TOKEN, "url": "https://git.example.org"}) is None
    assert pair(git_auth(REPO, {"token": TOKEN})) == ("oauth2", TOKEN)


def test_provider_gitlab_with_unknown_shape_is_an_error_without_the_secret():
    with pytest.raises(ConfigError, match="provider: gitlab") as info:
        git_auth(REPO, {"provider": "gitlab", "secret": TOKEN})
    assert TOKEN not in str(info.value)


def test_claimed_token_is_registered_with_the_redactor():
    fresh = "a-fresh-gitlab-token-only-seen-by-the-hook"
    assert redact(fresh) == fresh
    git_auth(REPO, {"access_token": fresh})
    assert redact(fresh) == "***"


# --- through git_clone, against a git server that accepts only GitLab's form -------------

GIT_CLONE = "stowflow.deployments.steps.git_clone"


@pytest.fixture
def gitlab_only_repo(git_remote, monkeypatch, tmp_path):
    """A private repository that lets in oauth2 + TOKEN and nothing else."""
    monkeypatch.chdir(tmp_path)
    repo = git_remote.create_repo(files={"flow.py": "print('hi')\n"})
    git_remote.accept({("oauth2", TOKEN)})
    return repo


def clone(repo, **settings):
    from stowflow.steps import run_steps

    return run_steps([{GIT_CLONE: {"repository": repo.url, **settings}}])


def test_secret_block_through_git_clone_with_host_detection(gitlab_only_repo, monkeypatch,
                                                            caplog, stowflow_home):
    caplog.set_level(logging.DEBUG)
    Secret(value=TOKEN).save("gl-token")
    token = "{{ stowflow.blocks.secret.gl-token }}"
    with pytest.raises(GitAuthError) as info:
        clone(gitlab_only_repo, access_token=token)
    assert_no_secret(TOKEN, str(info.value))
    monkeypatch.setenv("STOWFLOW_GITLAB_HOSTS", "127.0.0.1")
    outputs = clone(gitlab_only_repo, access_token=token)
    assert outputs["commit_sha"] == gitlab_only_repo.rev_parse()
    assert (Path(outputs["directory"]) / "flow.py").exists()
    assert_no_secret(TOKEN, repr(outputs), caplog.text, stowflow_home, Path.cwd())


def test_secret_block_through_git_clone_with_provider_key(gitlab_only_repo, stowflow_home):
    Secret(value=TOKEN).save("gl-token")
    outputs = clone(gitlab_only_repo, credentials={
        "access_token": "{{ stowflow.blocks.secret.gl-token }}", "provider": "gitlab"})
    assert outputs["commit_sha"] == gitlab_only_repo.rev_parse()
    assert_no_secret(TOKEN, repr(outputs), stowflow_home, Path.cwd())


def test_self_managed_block_placeholder_is_recognised_by_its_url(gitlab_only_repo, git_remote,
                                                                 stowflow_home):
    # no STOWFLOW_GITLAB_HOSTS and no provider key: the block's own url names the host
    GitLabCredentials(token=TOKEN, url=git_remote.base_url).save("self-managed")
    outputs = clone(gitlab_only_repo,
                    credentials="{{ stowflow.blocks.gitlab-credentials.self-managed }}")
    assert outputs["commit_sha"] == gitlab_only_repo.rev_parse()
    assert_no_secret(TOKEN, repr(outputs), stowflow_home, Path.cwd())


def test_bare_deploy_token_through_git_clone(git_remote, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    repo = git_remote.create_repo(files={"flow.py": "print('hi')\n"})
    git_remote.accept({("gitlab+deploy-token-5", TOKEN)})
    Secret(value=TOKEN).save("deploy")
    outputs = clone(repo, credentials={"access_token": "{{ stowflow.blocks.secret.deploy }}",
                                       "username": "gitlab+deploy-token-5",
                                       "provider": "gitlab"})
    assert outputs["commit_sha"] == repo.rev_parse()
