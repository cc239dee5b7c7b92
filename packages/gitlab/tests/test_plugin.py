"""The plugin is found through its entry point and registers its blocks and hooks."""

from __future__ import annotations

import io

from stowflow.blocks import documents
from stowflow.blocks.types import block_types
from stowflow.cli.app import main
from stowflow.plugins import plugin_infos
from stowflow.testing import assert_no_secret
from stowflow_gitlab import GitLabCredentials, GitLabRepository


def test_entry_point_loads_with_its_hooks():
    info = next(i for i in plugin_infos() if i.name == "gitlab")
    assert info.error is None
    assert info.distribution == "stowflow-gitlab"
    assert info.hooks == ["stowflow_git_auth", "stowflow_register_block_types"]


def test_block_types_registered():
    types = block_types()
    assert types["gitlab-credentials"] is GitLabCredentials
    assert types["gitlab-repository"] is GitLabRepository


def test_block_register_cli_records_both(capsys):
    assert main(["block", "register", "-m", "stowflow_gitlab"]) == 0
    out = capsys.readouterr().out
    assert "gitlab-credentials" in out and "gitlab-repository" in out
    recorded = {r.slug: r for r in documents.list_block_types()}
    assert recorded["gitlab-credentials"].module == "stowflow_gitlab.credentials"
    assert recorded["gitlab-repository"].module == "stowflow_gitlab.repository"


def test_every_field_has_a_description():
    for cls in (GitLabCredentials, GitLabRepository):
        for name, info in cls.model_fields.items():
            assert info.description, f"{cls.__name__}.{name} has no description"


def test_block_create_cli_reads_the_token_from_stdin(monkeypatch, capsys, stowflow_home):
    token = "glpat-p@ss:w/rd%20#+ with spaces"
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert main(["block", "create", "gitlab-credentials", "deploy",
                 "--set", "deploy_token_username=gitlab+deploy-token-1"]) == 0
    auth = GitLabCredentials.load("deploy").git_auth()
    assert (auth.username, auth.password) == ("gitlab+deploy-token-1", token)
    assert_no_secret(token, *capsys.readouterr(), stowflow_home)
