"""The plugin is found through its entry point and registers its blocks and hooks."""

from __future__ import annotations

import io

from stowflow.cli.app import main
from stowflow.testing import assert_no_secret
from stowflow.testing.plugins import ProviderPluginSuite
from stowflow_github import GitHubCredentials, GitHubRepository


class TestGitHubPlugin(ProviderPluginSuite):
    plugin_name = "github"
    distribution = "stowflow-github"
    hooks = ["stowflow_git_auth", "stowflow_register_block_types"]
    block_classes = {"github-credentials": GitHubCredentials, "github-repository": GitHubRepository}


def test_block_create_cli_reads_the_token_from_stdin(monkeypatch, capsys, stowflow_home):
    token = "ghp_p@ss:w/rd%20#+ with spaces"
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert main(["block", "create", "github-credentials", "gh",
                 "--set", "url=https://ghe.example.com"]) == 0
    loaded = GitHubCredentials.load("gh")
    assert (loaded.token.get_secret_value(), loaded.url) == (token, "https://ghe.example.com")
    assert_no_secret(token, *capsys.readouterr(), stowflow_home)
