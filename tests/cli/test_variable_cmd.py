"""stowflow variable set | get | ls | delete."""

from __future__ import annotations

from stowflow.cli.app import main
from stowflow.variables import get_variable


def test_set_get_ls_delete(capsys) -> None:
    assert main(["variable", "set", "region", "eu-west-1"]) == 0
    assert main(["variable", "set", "cfg", '{"a": [1, 2]}', "--json"]) == 0
    capsys.readouterr()
    assert main(["variable", "get", "region"]) == 0
    assert capsys.readouterr().out.strip() == "eu-west-1"
    assert get_variable("cfg") == {"a": [1, 2]}
    assert main(["variable", "ls"]) == 0
    out = capsys.readouterr().out
    assert "region" in out and "cfg" in out
    assert main(["variable", "delete", "region"]) == 0
    assert main(["variable", "get", "region"]) == 1
    assert "variable 'region' is not set" in capsys.readouterr().err


def test_set_refuses_to_overwrite_without_the_flag(capsys) -> None:
    assert main(["variable", "set", "x", "1"]) == 0
    assert main(["variable", "set", "x", "2"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["variable", "set", "x", "2", "--overwrite"]) == 0
    assert get_variable("x") == "2"


def test_invalid_name_and_invalid_json(capsys) -> None:
    assert main(["variable", "set", "bad name", "1"]) == 1
    assert "invalid variable name" in capsys.readouterr().err
    assert main(["variable", "set", "ok", "{nope", "--json"]) == 1
    assert "not valid JSON" in capsys.readouterr().err
