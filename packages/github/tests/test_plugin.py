"""The plugin is found through its entry point and registers its blocks and hooks."""

from __future__ import annotations

import io

from stowflow.blocks import documents
from stowflow.blocks.types import block_types
from stowflow.cli.app import main
from stowflow.plugins import plugin_infos
from stowflow.testing import assert_no_secret
from stowflow_github import GitHubCredentials, GitHubRepository


def test_entry_point_loads_with_its_hooks():
    info = next(i for i in plugin_infos() if i.name == "github")
    assert info.error is None
    assert info.distribution == "stowflow-github"
    assert info.hooks == ["stowflow_git_auth", "stowflow_register_block_types"]


def test_block_types_registered():
    types = block_types()
    assert types["github-credentials"] is GitHubCredentials
    assert types["github-repository"] is GitHubRepository


def test_block_register_cli_records_both(capsys):
    assert main(["block", "register", "-m", "stowflow_github"]) == 0
    out = capsys.readouterr().out
    assert "github-credentials" in out and "github-repository" in out
    recorded = {r.slug: r for r in documents.list_block_types()}
    assert recorded["github-credentials"].module == "stowflow_github.credentials"
    assert recorded["github-repository"].module == "stowflow_github.repository"


def test_every_field_has_a_description():
    for cls in (GitHubCredentials, GitHubRepository):
        for name, info in cls.model_fields.items():
            assert info.description, f"{cls.__name__}.{name} has no description"


def test_block_create_cli_reads_the_token_from_stdin(monkeypatch, capsys, stowflow_home):
    token = "ghp_p@ss:w/rd%20#+ with spaces"
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert main(["block", "create", "github-credentials", "gh",
                 "--set", "url=https://ghe.example.com"]) == 0
    loaded = GitHubCredentials.load("gh")
    assert (loaded.token.get_secret_value(), loaded.url) == (token, "https://ghe.example.com")
    assert_no_secret(token, *capsys.readouterr(), stowflow_home)
