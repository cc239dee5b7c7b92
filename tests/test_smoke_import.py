"""The core imports and its CLI answers."""

from stowflow.cli.app import main


def test_cli_plugins_lists_providers(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    for provider in ("aws", "gcp", "azure", "github", "gitlab", "bitbucket"):
        assert provider in out
