"""A broken environment (STOWFLOW_HOME, the SQLite file, STOWFLOW_DATABASE_URL) is one clear
error, never an 'unexpected' one, and loses no data."""

from __future__ import annotations

from pathlib import Path

import pytest
from stowflow.testing import assert_no_secret


def test_home_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails_cleanly) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.setenv("STOWFLOW_HOME", str(home))
    message = fails_cleanly("variable", "ls")
    assert "STOWFLOW_HOME" in message and "is a file" in message
    assert home.read_text() == "not a folder"


def test_home_below_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails_cleanly) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("STOWFLOW_HOME", str(tmp_path / "file" / "home"))
    message = fails_cleanly("block", "ls")
    assert "cannot use STOWFLOW_HOME" in message


def test_home_below_a_file_for_the_secret_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              fails_cleanly) -> None:
    # the database elsewhere: the key file is the first thing written to the home
    monkeypatch.setenv("STOWFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("STOWFLOW_HOME", str(tmp_path / "file" / "home"))
    message = fails_cleanly("block", "create", "secret", "s",
                            stdin="a-secret-value\n")
    assert "cannot use STOWFLOW_HOME" in message


def test_corrupt_sqlite_file_is_named_and_kept(stowflow_home: Path, fails_cleanly) -> None:
    db = stowflow_home / "stowflow.db"
    garbage = b"this is not a database at all\n" * 100
    db.write_bytes(garbage)
    message = fails_cleanly("variable", "ls")
    assert str(db) in message and "move it aside" in message
    assert db.read_bytes() == garbage  # nothing was overwritten or migrated


def test_sqlite_url_in_a_missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        fails_cleanly) -> None:
    monkeypatch.setenv("STOWFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'nope' / 'x.db'}")
    message = fails_cleanly("work-pool", "ls")
    assert "cannot open the SQLite database" in message


# A password with the characters that break URL parsing when left unencoded.
PASSWORD = "p@ss:w/rd#x+y z"


@pytest.mark.parametrize("command", [["variable", "ls"], ["deployment", "ls"]])
def test_unparsable_database_url_leaks_no_part_of_the_password(
        monkeypatch: pytest.MonkeyPatch, fails_cleanly, command: list[str]) -> None:
    monkeypatch.setenv("STOWFLOW_DATABASE_URL", f"postgresql+psycopg://user:{PASSWORD}@127.0.0.1/db")
    message = fails_cleanly(*command)
    assert "STOWFLOW_DATABASE_URL is not a valid database URL" in message
    assert "percent-encoded" in message
    # before the fix the message quoted the fragment after ':' ("invalid literal for int(): 'w'")
    assert "'w'" not in message and "rd#x" not in message
    assert_no_secret(PASSWORD, message)


def test_config_masks_an_unparsable_database_url(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from stowflow.cli.app import main

    monkeypatch.setenv("STOWFLOW_DATABASE_URL", f"postgresql+psycopg://user:{PASSWORD}@127.0.0.1/db")
    assert main(["config"]) == 0
    captured = capsys.readouterr()
    assert "unparsable URL, not shown" in captured.out
    for fragment in ("ss:w", "rd#x", PASSWORD):
        assert fragment not in captured.out + captured.err


def test_unknown_dialect_masks_the_password(monkeypatch: pytest.MonkeyPatch, fails_cleanly) -> None:
    monkeypatch.setenv("STOWFLOW_DATABASE_URL", "nosuchdb://user:hunter2-secret@127.0.0.1/db")
    message = fails_cleanly("variable", "ls")
    assert "nosuchdb://user:***@127.0.0.1/db" in message
    assert_no_secret("hunter2-secret", message)
