"""The plugin is found through its entry point and registers its blocks and hooks."""

from __future__ import annotations

from stowflow import registry
from stowflow.blocks import store
from stowflow.cli.app import main
from stowflow.plugins import plugin_infos
from stowflow_gitlab import GitLabCredentials, GitLabRepository


def test_entry_point_loads_with_its_hooks():
    info = next(i for i in plugin_infos() if i.name == "gitlab")
    assert info.error is None
    assert info.distribution == "stowflow-gitlab"
    assert info.hooks == ["stowflow_git_auth", "stowflow_register_block_types"]


def test_block_types_registered():
    types = registry.block_types()
    assert types["gitlab-credentials"] is GitLabCredentials
    assert types["gitlab-repository"] is GitLabRepository


def test_block_register_cli_records_both(capsys):
    assert main(["block", "register", "-m", "stowflow_gitlab"]) == 0
    out = capsys.readouterr().out
    assert "gitlab-credentials" in out and "gitlab-repository" in out
    recorded = {r.slug: r for r in store.list_block_types()}
    assert recorded["gitlab-credentials"].module == "stowflow_gitlab.credentials"
    assert recorded["gitlab-repository"].module == "stowflow_gitlab.repository"


def test_every_field_has_a_description():
    for cls in (GitLabCredentials, GitLabRepository):
        for name, info in cls.model_fields.items():
            assert info.description, f"{cls.__name__}.{name} has no description"
