"""The plugin is found through its entry point and registers its blocks and hooks."""

from __future__ import annotations

import io

from stowflow.blocks import documents
from stowflow.blocks.types import block_types
from stowflow.cli.app import main
from stowflow.plugins import plugin_infos
from stowflow.testing import assert_no_secret
from stowflow_bitbucket import BitBucketCredentials, BitBucketRepository


def test_entry_point_loads_with_its_hooks():
    info = next(i for i in plugin_infos() if i.name == "bitbucket")
    assert info.error is None
    assert info.distribution == "stowflow-bitbucket"
    assert info.hooks == ["stowflow_git_auth", "stowflow_register_block_types"]


def test_block_types_registered():
    types = block_types()
    assert types["bitbucket-credentials"] is BitBucketCredentials
    assert types["bitbucket-repository"] is BitBucketRepository


def test_block_register_cli_records_both(capsys):
    assert main(["block", "register", "-m", "stowflow_bitbucket"]) == 0
    out = capsys.readouterr().out
    assert "bitbucket-credentials" in out and "bitbucket-repository" in out
    recorded = {r.slug: r for r in documents.list_block_types()}
    assert recorded["bitbucket-credentials"].module == "stowflow_bitbucket.credentials"
    assert recorded["bitbucket-repository"].module == "stowflow_bitbucket.repository"


def test_every_field_has_a_description():
    for cls in (BitBucketCredentials, BitBucketRepository):
        for name, info in cls.model_fields.items():
            assert info.description, f"{cls.__name__}.{name} has no description"


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
