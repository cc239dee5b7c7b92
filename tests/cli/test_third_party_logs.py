"""SDK warnings with tracebacks stay off stderr unless --debug.

Regression (issue 19 item 7): a cut-short response header made urllib3 log "Failed to
parse headers" with a traceback at WARNING, which the CLI printed on stderr during a push
that then succeeded. This test fails on the old code (the traceback is on stderr).
"""

from __future__ import annotations

import logging

import pytest
from stowflow.cli import app


def warn_like_urllib3() -> None:
    try:
        raise ValueError("header parsing failed")
    except ValueError:
        logging.getLogger("urllib3.connectionpool").warning(
            "Failed to parse headers (url=%s)", "http://127.0.0.1/x", exc_info=True)


@pytest.mark.parametrize("debug", [False, True])
def test_sdk_warnings_are_shown_only_with_debug(debug: bool, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    real_build = app.build_app

    def build() -> object:
        warn_like_urllib3()
        return real_build()

    monkeypatch.setattr(app, "build_app", build)
    root = logging.getLogger()
    handler = logging.StreamHandler()  # what basicConfig installs outside pytest
    root.addHandler(handler)
    try:
        assert app.main(["--help", *(["--debug"] if debug else [])]) == 0
    finally:
        root.removeHandler(handler)
    err = capsys.readouterr().err
    assert ("Traceback" in err) is debug
    assert ("Failed to parse headers" in err) is debug
