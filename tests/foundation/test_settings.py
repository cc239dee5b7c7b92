"""get_settings() follows the environment although it keeps the parsed settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from stowflow.settings import get_settings


def test_settings_follow_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOWFLOW_HOME", str(tmp_path / "a"))
    assert get_settings().home == tmp_path / "a"
    monkeypatch.setenv("STOWFLOW_HOME", str(tmp_path / "b"))
    assert get_settings().home == tmp_path / "b"
    monkeypatch.setenv("stowflow_database_url", "sqlite:///" + str(tmp_path / "x.db"))
    assert get_settings().effective_database_url.endswith("x.db")  # names are case-blind
    monkeypatch.delenv("stowflow_database_url")
    monkeypatch.delenv("STOWFLOW_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # what ~ in the default home means
    assert get_settings().home == tmp_path / "home" / ".stowflow"


def test_changing_the_returned_settings_changes_nothing_else(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOWFLOW_HOME", str(tmp_path))
    mine = get_settings()
    mine.home = tmp_path / "elsewhere"
    assert get_settings().home == tmp_path
