"""Shared assertion for the red-team tests: one clear error line from the CLI boundary."""

from __future__ import annotations

import io
import sys

import pytest
from stowflow.cli.app import main


def fails_cleanly(capsys: pytest.CaptureFixture[str], *args: str, stdin: str | None = None,
                  monkeypatch: pytest.MonkeyPatch | None = None) -> str:
    """Run ``stowflow ARGS`` in-process (``stdin`` piped in when given, which needs
    ``monkeypatch``); assert exit 1 with one translated error line; return it."""
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert main(list(args)) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[0].startswith("Error: "), err
    assert "unexpected" not in err and "Traceback" not in err, err
    return " ".join(line.strip() for line in lines)
