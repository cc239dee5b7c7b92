"""Credentials against the real server: every form, wrong tokens, and no leak anywhere."""

from __future__ import annotations

import logging
import time
import types
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field, SecretStr
from stowflow import hookimpl
from stowflow.blocks import Block, Secret
from stowflow.deployments.steps import git_clone
from stowflow.errors import ConfigError, GitAuthError
from stowflow.git import DEFAULT_USERNAME, GitAuth, resolve_git_auth
from stowflow.git.url import parse_git_url
from stowflow.plugins import get_plugin_manager
from stowflow.redact import install_logging_filter
from stowflow.settings import get_settings
from stowflow.storage import GitRepository
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.git_http import GitHTTPServer

TOKEN = "tok-9f8e7d6c5b4a-secret"


class DeployKey(Block):
    """A custom credentials block whose plugin maps it to a Basic pair."""

    __block_type_name__ = "Test Deploy Key"
    login: str = Field(description="The login name.")
    key: SecretStr = Field(description="The key.")


def _register_deploy_key_plugin() -> None:
    plugin = types.ModuleType("test_deploy_key_plugin")

    @hookimpl
    def stowflow_git_auth(url: str, credentials: Any) -> GitAuth | None:
        if isinstance(credentials, DeployKey):
            return GitAuth(credentials.login, credentials.key.get_secret_value())
        if isinstance(credentials, dict) and "key" in credentials and "login" in credentials:
            return GitAuth(credentials["login"], credentials["key"])
        return None

    plugin.stowflow_git_auth = stowflow_git_auth  # type: ignore[attr-defined]
    get_plugin_manager().register(plugin)


@pytest.fixture
def private_repo(git_remote: GitHTTPServer) -> Any:
    repo = git_remote.create_repo(files={"flow.py": "print('private')\n"})
    git_remote.accept({(DEFAULT_USERNAME, TOKEN), ("ci-bot", TOKEN)})
    return repo


def _saved_secret(name: str = "git-token") -> Secret:
    Secret(value=TOKEN).save(name)
    return Secret.load(name)


CREDENTIAL_FORMS = {
    "plain string": lambda: TOKEN,
    "SecretStr": lambda: SecretStr(TOKEN),
    "Secret block": lambda: _saved_secret(),
    "unsaved Secret block": lambda: Secret(value=TOKEN),
    "dict with str": lambda: {"access_token": TOKEN},
    "dict with Secret": lambda: {"access_token": _saved_secret()},
    "dict with username": lambda: {"access_token": _saved_secret(), "username": "ci-bot"},
    "dict with provider": lambda: {"access_token": TOKEN, "provider": "unknown-provider"},
    "Secret data dict": lambda: {"value": TOKEN},
    "dict with Secret data": lambda: {"access_token": {"value": TOKEN}, "username": "ci-bot"},
}


@pytest.mark.parametrize("form", sorted(CREDENTIAL_FORMS))
def test_each_credential_form_pulls_a_private_repository(private_repo: Any, workdir: Path,
                                                         git_remote: GitHTTPServer,
                                                         form: str) -> None:
    credentials = CREDENTIAL_FORMS[form]()
    result = GitRepository(private_repo.url, credentials=credentials).pull()
    assert (result.directory / "flow.py").read_text() == "print('private')\n"
    users = {r.user for r in git_remote.requests_for(private_repo)}
    with_username = {"dict with username", "dict with Secret data"}
    expected = "ci-bot" if form in with_username else DEFAULT_USERNAME
    assert users == {expected}
    assert all(r.status == 200 for r in git_remote.requests_for(private_repo))


def test_a_plugin_credentials_block_goes_through_the_hook(git_remote: GitHTTPServer,
                                                          workdir: Path) -> None:
    _register_deploy_key_plugin()
    repo = git_remote.create_repo(files={"a.txt": "1"})
    git_remote.accept({("deployer", TOKEN)})
    result = GitRepository(repo.url, credentials=DeployKey(login="deployer", key=TOKEN)).pull()
    assert (result.directory / "a.txt").exists()
    assert {r.user for r in git_remote.requests_for(repo)} == {"deployer"}


def test_unknown_block_type_is_a_clear_error(git_remote: GitHTTPServer, workdir: Path) -> None:
    repo = git_remote.create_repo(files={"a.txt": "1"})
    with pytest.raises(GitAuthError, match="no installed plugin can use credentials of type "
                                           "DeployKey"):
        GitRepository(repo.url, credentials=DeployKey(login="x", key=TOKEN)).pull()
    assert git_remote.requests_for(repo) == []  # nothing was sent


def test_wrong_token_fails_fast_without_retry(private_repo: Any, workdir: Path,
                                              git_remote: GitHTTPServer) -> None:
    started = time.monotonic()
    with pytest.raises(GitAuthError, match="authentication failed") as info:
        GitRepository(private_repo.url, credentials="wrong-token-123").pull()
    assert time.monotonic() - started < 10
    assert [r.status for r in git_remote.requests_for(private_repo)] == [401]
    assert "refused the token sent as user 'git'" in str(info.value)
    assert "wrong-token-123" not in str(info.value)
    assert not (workdir / "flow").exists() and list(workdir.iterdir()) == []


def test_missing_credentials_say_so(private_repo: Any, workdir: Path) -> None:
    with pytest.raises(GitAuthError, match="authentication failed") as info:
        GitRepository(private_repo.url).pull()
    assert "needs credentials" in str(info.value)


def test_credentials_on_ssh_urls_are_refused() -> None:
    with pytest.raises(ConfigError, match="SSH"):
        resolve_git_auth(parse_git_url("git@example.com:org/repo.git"), TOKEN)


def test_submodules_get_credentials_on_the_same_host_only(git_remote: GitHTTPServer,
                                                         workdir: Path) -> None:
    # "localhost" is another host than "127.0.0.1" for git's URL matching, though it is the
    # same (public, here) server: only requests to the repository's own host carry the token.
    lib = git_remote.create_repo(files={"lib.py": "lib"})
    other = git_remote.create_repo(files={"other.py": "other"})
    repo = git_remote.create_repo(files={"a.txt": "1"})
    repo.add_submodule("same", lib.url, lib.rev_parse())
    repo.add_submodule("elsewhere", other.url.replace("127.0.0.1", "localhost"),
                       other.rev_parse())
    result = GitRepository(repo.url, credentials=TOKEN, include_submodules=True).pull()
    assert (result.directory / "same" / "lib.py").read_text() == "lib"
    assert (result.directory / "elsewhere" / "other.py").read_text() == "other"
    assert {r.user for r in git_remote.requests_for(lib)} == {DEFAULT_USERNAME}
    assert {r.user for r in git_remote.requests_for(other)} == {None}
    assert {r.host.split(":")[0] for r in git_remote.requests_for(other)} == {"localhost"}


def test_token_never_leaks(private_repo: Any, git_remote: GitHTTPServer, workdir: Path,
                           git_argv_log: Path, caplog: pytest.LogCaptureFixture,
                           capfd: pytest.CaptureFixture[str]) -> None:
    install_logging_filter()
    caplog.set_level(logging.DEBUG)
    sub = git_remote.create_repo(files={"lib.py": "lib"})
    private_repo.add_submodule("vendor/lib", f"../{sub.name.rsplit('/', 1)[-1]}.git",
                               sub.rev_parse())
    captured: list[str] = []
    storage = GitRepository(private_repo.url, credentials={"access_token": _saved_secret()},
                            include_submodules=True)
    result = storage.pull()
    captured += [repr(result), repr(storage), storage.describe(), repr(storage.to_pull_step())]
    step = git_clone(private_repo.url, access_token={"value": TOKEN}, clone_directory_name="s")
    captured.append(repr(step))
    # failures: wrong token, then a credentials-in-URL attempt, then an unreachable host
    git_remote.accept({("git", "another-token-xyz")})
    for attempt in (lambda: GitRepository(private_repo.url, credentials=TOKEN).pull(),
                    lambda: GitRepository(private_repo.url.replace("http://",
                                                                   f"http://git:{TOKEN}@")),
                    lambda: git_clone(private_repo.url, access_token=TOKEN,
                                      clone_directory_name="x")):
        with pytest.raises(Exception) as info:
            attempt()
        captured += [str(info.value), repr(info.value), repr(info.value.args)]
    out, err = capfd.readouterr()
    argv = git_argv_log.read_text()
    # the log is real: our commands, the submodule's clone, git's own children
    for expected in ("ls-remote", "submodule", "built-in: git clone", "run_command:",
                     "remote-http"):
        assert expected in argv, expected
    assert (result.directory / "vendor" / "lib" / "lib.py").read_text() == "lib"
    import base64

    basic = base64.b64encode(f"git:{TOKEN}".encode()).decode()
    for secret in (TOKEN, basic):
        assert_no_secret(secret, caplog.text, "\n".join(captured), out, err, argv,
                         result.directory, workdir / "s", get_settings().cache_dir)


def test_to_pull_step_uses_placeholders_and_refuses_plain_tokens(workdir: Path) -> None:
    url = "https://git.example.com/org/repo.git"
    secret = _saved_secret("deploy-token")
    step = GitRepository(url, credentials=secret, branch="dev", directories=["flows/"],
                         include_submodules=True, name="code").to_pull_step()
    assert step == {"stowflow.deployments.steps.git_clone": {
        "repository": url, "branch": "dev", "include_submodules": True,
        "directories": ["flows"], "clone_directory_name": "code",
        "credentials": "{{ stowflow.blocks.secret.deploy-token }}"}}
    step = GitRepository(url, commit_sha="abc1234", credentials={
        "access_token": secret, "username": "bot", "provider": "gitlab"}).to_pull_step()
    assert step["stowflow.deployments.steps.git_clone"] == {
        "repository": url, "commit_sha": "abc1234",
        "credentials": {"access_token": "{{ stowflow.blocks.secret.deploy-token }}",
                        "username": "bot", "provider": "gitlab"}}
    assert "credentials" not in GitRepository(url).to_pull_step()[
        "stowflow.deployments.steps.git_clone"]
    for plain in (TOKEN, {"access_token": TOKEN}, SecretStr(TOKEN), {"token": TOKEN},
                  {"access_token": secret, "password": TOKEN}):
        with pytest.raises(ConfigError, match="Secret block") as info:
            GitRepository(url, credentials=plain).to_pull_step()
        assert TOKEN not in str(info.value)
    with pytest.raises(ConfigError, match="unsaved"):
        GitRepository(url, credentials=Secret(value=TOKEN)).to_pull_step()
    with pytest.raises(ConfigError, match="unsaved"):
        GitRepository(url, credentials={"access_token": Secret(value=TOKEN)}).to_pull_step()
    kept = {"access_token": "{{ stowflow.blocks.secret.x }}", "username": "u"}
    assert GitRepository(url, credentials=kept).to_pull_step()[
        "stowflow.deployments.steps.git_clone"]["credentials"] == kept
    _register_deploy_key_plugin()
    key = DeployKey(login="l", key=TOKEN)
    key.save("prod")
    assert GitRepository(url, credentials=key).to_pull_step()[
        "stowflow.deployments.steps.git_clone"]["credentials"] == \
        "{{ stowflow.blocks.test-deploy-key.prod }}"


def test_git_clone_step_accepts_run_time_block_data(private_repo: Any, workdir: Path,
                                                    git_remote: GitHTTPServer) -> None:
    # what the templating engine hands over for {{ stowflow.blocks.secret.NAME }}
    out = git_clone(private_repo.url, access_token={"value": TOKEN})
    name = private_repo.name.rsplit("/", 1)[-1]
    assert out == {"directory": str(workdir / name), "commit_sha": private_repo.rev_parse()}
    out = git_clone(private_repo.url, credentials={"access_token": {"value": TOKEN},
                                                   "username": "ci-bot"},
                    clone_directory_name="named")
    assert out["directory"] == str(workdir / "named")
    assert (workdir / "named" / "flow.py").exists()
    with pytest.raises(ConfigError, match="not both"):
        git_clone(private_repo.url, access_token=TOKEN, credentials={"access_token": TOKEN})
    with pytest.raises(ConfigError, match="unresolved placeholder"):
        git_clone(private_repo.url, access_token="{{ stowflow.blocks.secret.x }}")


def test_storage_for_url_hook_claims_git_urls(workdir: Path) -> None:
    hook = get_plugin_manager().hook.stowflow_storage_for_url
    for url in ("https://github.com/org/repo", "https://example.com/org/repo.git",
                "git@github.com:org/repo.git", "ssh://git@example.com/org/repo.git"):
        storage = hook(url=url, options={"branch": "dev"})
        assert isinstance(storage, GitRepository), url
        assert storage.branch == "dev"
    assert not isinstance(hook(url="s3://bucket/folder", options={}), GitRepository)
    assert not isinstance(hook(url="https://example.com/page", options={}), GitRepository)


def test_default_git_auth_hook() -> None:
    hook = get_plugin_manager().hook.stowflow_git_auth
    url = "https://git.example.com/org/repo.git"
    assert hook(url=url, credentials=TOKEN) == GitAuth("git", TOKEN)
    assert hook(url=url, credentials={"access_token": TOKEN, "username": "me"}) == \
        GitAuth("me", TOKEN)
    assert hook(url=url, credentials={"token": TOKEN}) is None  # not a bare token: not ours
    assert "password" not in repr(GitAuth("u", TOKEN)) and TOKEN not in repr(GitAuth("u", TOKEN))


def test_git_environment_is_controlled(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIT_CURL_VERBOSE / GIT_TRACE_CURL would print every request's headers; GIT_DIR and
    # friends would point git at another repository; askpass helpers could prompt.
    for name in ("GIT_CURL_VERBOSE", "GIT_TRACE_CURL", "GIT_DIR", "GIT_ASKPASS",
                 "SSH_ASKPASS", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_KEY_7"):
        monkeypatch.setenv(name, "1")
    from stowflow.git.runner import GitEnv

    env = GitEnv(parse_git_url("https://h.example/o/r.git"), GitAuth("u", TOKEN)).environ()
    for name in ("GIT_CURL_VERBOSE", "GIT_TRACE_CURL", "GIT_DIR", "GIT_ASKPASS", "SSH_ASKPASS",
                 "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_KEY_7"):
        assert name not in env or (name == "GIT_CONFIG_KEY_7" and env[name] != "1"), name
    assert env["GIT_TERMINAL_PROMPT"] == "0" and env["GIT_TRACE_REDACT"] == "1"
    config = {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
              for i in range(int(env["GIT_CONFIG_COUNT"]))}
    assert config["core.askPass"] == "" and config["credential.helper"] == ""
    assert config["http.https://h.example/.extraHeader"].startswith("Authorization: Basic ")
    assert TOKEN not in "".join(config.values())  # only its base64 form travels


def test_a_username_with_a_colon_is_refused(git_remote: GitHTTPServer) -> None:
    with pytest.raises(ConfigError, match="contains ':'"):
        resolve_git_auth(parse_git_url(f"{git_remote.base_url}/o/r.git"),
                         {"access_token": TOKEN, "username": "a:b"})
