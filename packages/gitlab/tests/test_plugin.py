"""The plugin is found through its entry point and registers its blocks and hooks."""

from __future__ import annotations

import io

from stowflow.cli.app import main
from stowflow.testing import assert_no_secret
from stowflow.testing.plugins import ProviderPluginSuite
from stowflow_gitlab import GitLabCredentials, GitLabRepository


class TestGitLabPlugin(ProviderPluginSuite):
    plugin_name = "gitlab"
    distribution = "stowflow-gitlab"
    hooks = ["stowflow_git_auth", "stowflow_register_block_types"]
    block_classes = {"gitlab-credentials": GitLabCredentials, "gitlab-repository": GitLabRepository}


def test_block_create_cli_reads_the_token_from_stdin(monkeypatch, capsys, stowflow_home):
    token = "glpat-p@ss:w/rd%20#+ with spaces"
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert main(["block", "create", "gitlab-credentials", "deploy",
                 "--set", "deploy_token_username=gitlab+deploy-token-1"]) == 0
    auth = GitLabCredentials.load("deploy").git_auth()
    assert (auth.username, auth.password) == ("gitlab+deploy-token-1", token)
    assert_no_secret(token, *capsys.readouterr(), stowflow_home)
