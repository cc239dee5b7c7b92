"""The plugin is found through its entry point and registers its blocks and hooks."""

from __future__ import annotations

from stowflow import registry
from stowflow.blocks import store
from stowflow.cli.app import main
from stowflow.plugins import plugin_infos
from stowflow_bitbucket import BitBucketCredentials, BitBucketRepository


def test_entry_point_loads_with_its_hooks():
    info = next(i for i in plugin_infos() if i.name == "bitbucket")
    assert info.error is None
    assert info.distribution == "stowflow-bitbucket"
    assert info.hooks == ["stowflow_git_auth", "stowflow_register_block_types"]


def test_block_types_registered():
    types = registry.block_types()
    assert types["bitbucket-credentials"] is BitBucketCredentials
    assert types["bitbucket-repository"] is BitBucketRepository


def test_block_register_cli_records_both(capsys):
    assert main(["block", "register", "-m", "stowflow_bitbucket"]) == 0
    out = capsys.readouterr().out
    assert "bitbucket-credentials" in out and "bitbucket-repository" in out
    recorded = {r.slug: r for r in store.list_block_types()}
    assert recorded["bitbucket-credentials"].module == "stowflow_bitbucket.credentials"
    assert recorded["bitbucket-repository"].module == "stowflow_bitbucket.repository"


def test_every_field_has_a_description():
    for cls in (BitBucketCredentials, BitBucketRepository):
        for name, info in cls.model_fields.items():
            assert info.description, f"{cls.__name__}.{name} has no description"
