"""The plugin is found through its entry point and registers its blocks and hooks."""

from __future__ import annotations

import io

from stowflow.cli.app import main
from stowflow.testing import assert_no_secret
from stowflow.testing.plugins import ProviderPluginSuite
from stowflow_bitbucket import BitBucketCredentials, BitBucketRepository


class TestBitBucketPlugin(ProviderPluginSuite):
    plugin_name = "bitbucket"
    distribution = "stowflow-bitbucket"
    hooks = ["stowflow_git_auth", "stowflow_register_block_types"]
    block_classes = {"bitbucket-credentials": BitBucketCredentials, "bitbucket-repository": BitBucketRepository}


def test_block_create_cli_reads_the_secrets_from_stdin(monkeypatch, capsys, stowflow_home):
    password = "app-p@ss:w/rd%20#+ with spaces"
    monkeypatch.setattr("sys.stdin", io.StringIO(f"password={password}\n"))
    assert main(["block", "create", "bitbucket-credentials", "app",
                 "--set", "username=alice"]) == 0
    auth = BitBucketCredentials.load("app").git_auth()
    assert (auth.username, auth.password) == ("alice", password)
    assert_no_secret(password, *capsys.readouterr(), stowflow_home)


def test_block_create_cli_reports_an_invalid_combination(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["block", "create", "bitbucket-credentials", "empty"]) == 1
    assert "give a token, or a username and password" in capsys.readouterr().err
