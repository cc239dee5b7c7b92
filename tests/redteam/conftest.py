"""Red-team tests: a fixture that runs the CLI in-process and expects one clear error."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable

import pytest
from stowflow.cli.app import main


@pytest.fixture
def fails_cleanly(capsys: pytest.CaptureFixture[str],
                  monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Return ``run(*args, stdin=None)``: it runs ``stowflow ARGS`` in-process (``stdin`` piped
    in when given), asserts exit 1 with one translated error line, and returns the message."""

    def run(*args: str, stdin: str | None = None) -> str:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        assert main(list(args)) == 1
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines and lines[0].startswith("Error: "), err
        assert "unexpected" not in err and "Traceback" not in err, err
        return " ".join(line.strip() for line in lines)

    return run
