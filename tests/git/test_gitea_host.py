"""A fourth git host in ~20 lines: a tiny in-test Gitea plugin built on GitHostProvider.

The plugin is a credentials block, a repository block and one ``GitHostProvider``; its two
hooks are one line each. It then passes the same ``GitProviderRepositorySuite`` that
GitHub, GitLab and Bitbucket pass, against the real smart-HTTP git server.
"""

from __future__ import annotations

import types
from typing import Any

import pytest
from pydantic import Field, SecretStr
from stowflow import hookimpl
from stowflow.blocks import Block
from stowflow.git.auth import GitAuth
from stowflow.git.hosts import GitHostProvider
from stowflow.git.providers import GitProviderRepository
from stowflow.plugins import get_plugin_manager
from stowflow.testing.git_providers import GitProviderRepositorySuite

# --- the whole plugin ---------------------------------------------------------------------


class GiteaCredentials(Block):
    """A Gitea access token."""

    token: SecretStr = Field(description="A Gitea access token.")

    def git_auth(self) -> GitAuth:
        """Gitea takes a token as the password of any username; this one names it."""
        return GitAuth("gitea-token", self.token.get_secret_value())


class GiteaRepository(GitProviderRepository):
    """A Gitea repository."""

    credentials: GiteaCredentials | None = Field(default=None, description="Gitea credentials.")


GITEA = GitHostProvider(name="gitea", public_hosts=("gitea.com",), token_username="gitea-token",
                        credentials_type=GiteaCredentials, repository_type=GiteaRepository)

plugin = types.ModuleType("stowflow_gitea.plugin")


@hookimpl
def stowflow_register_block_types(register: Any) -> None:
    GITEA.register_block_types(register)


@hookimpl
def stowflow_git_auth(url: str, credentials: Any) -> GitAuth | None:
    return GITEA.git_auth(url, credentials)


plugin.stowflow_register_block_types = stowflow_register_block_types  # type: ignore[attr-defined]
plugin.stowflow_git_auth = stowflow_git_auth  # type: ignore[attr-defined]

# --- its tests ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def gitea_plugin() -> None:
    """Register the plugin (the isolation fixture rebuilds the manager after each test)."""
    get_plugin_manager().register(plugin)


class TestGiteaRepository(GitProviderRepositorySuite):
    repository_cls = GiteaRepository
    credentials_cls = GiteaCredentials
    token = "gta_t0k:en/with%20odd chars"
    username = "gitea-token"
    other_username = "x-access-token"  # GitHub's form of the same token


def test_bare_tokens_go_by_host_or_by_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    from stowflow.blocks.types import block_types

    hook = get_plugin_manager().hook.stowflow_git_auth
    assert hook(url="https://gitea.com/o/r.git", credentials="t1") == GitAuth("gitea-token", "t1")
    named: Any = {"access_token": "t2", "provider": "gitea"}
    assert hook(url="https://code.example/o/r.git", credentials=named) == GitAuth(
        "gitea-token", "t2")
    assert GITEA.git_auth("https://code.example/o/r.git", "t3") is None
    monkeypatch.setenv("STOWFLOW_GITEA_HOSTS", "code.example, other.example:3000")
    assert GITEA.git_auth("https://code.example/o/r.git", "t3") == GitAuth("gitea-token", "t3")
    assert GITEA.git_auth("https://github.com/o/r.git", "t4") is None  # GitHub's host
    assert {"gitea-credentials", "gitea-repository"} <= set(block_types())
