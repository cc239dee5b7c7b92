"""Blocks from the command line: bad module names and mistyped secret input on stdin."""

from __future__ import annotations

import pytest
from stowflow.blocks import documents as block_store
from stowflow.testing import assert_no_secret


@pytest.mark.parametrize("module", ["", ".relative", "two words", "a..b"])
def test_register_refuses_what_is_not_a_module_name(fails_cleanly, module: str) -> None:
    message = fails_cleanly("block", "register", "-m", module)
    assert "is not a module name" in message


def test_register_a_module_that_fails_to_import(fails_cleanly, tmp_path, monkeypatch) -> None:
    (tmp_path / "broken_blocks_mod.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    message = fails_cleanly("block", "register", "-m", "broken_blocks_mod")
    assert "failed to import: RuntimeError: boom at import" in message


SECRET = "s3cr@t:/%#+ value"


@pytest.mark.parametrize("stdin", [f"{SECRET}\n", f"aws_secret_acces_key={SECRET}\n",
                                   f"aws_secret_access_key=ok-value\n{SECRET}\n"])
def test_multi_secret_stdin_that_is_not_field_lines_saves_nothing(fails_cleanly,
                                                                   stdin: str) -> None:
    # Before the fix such lines were dropped and a block without its secret was saved (exit 0).
    message = fails_cleanly("block", "create", "aws-credentials", "prod", stdin=stdin)
    assert "is not FIELD=VALUE" in message and "aws_secret_access_key" in message
    assert_no_secret(SECRET, message)
    assert list(block_store.list_documents("aws-credentials")) == []


def test_multi_secret_stdin_field_lines_are_saved(capsys, monkeypatch) -> None:
    import io
    import sys

    from stowflow.blocks import Block
    from stowflow.cli.app import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(f"aws_secret_access_key={SECRET}\n\n"))
    assert main(["block", "create", "aws-credentials", "prod",
                 "--set", "aws_access_key_id=AKIA0000"]) == 0
    block = Block.load("aws-credentials/prod")
    assert block.aws_secret_access_key.get_secret_value() == SECRET
