"""Credentials inside storage URLs are refused, and the planted secret is never printed.

Regression (issue 19 item 3): ``stowflow storage push SRC 's3://KEY:SECRET@bucket/p'``
printed the secret twice (the store name and the SDK's "Invalid bucket name"), on pull and
versions too, and ``-o endpoint_url=http://user:SECRET@host`` printed it in "Could not
connect to the endpoint URL". These tests fail on the old code (the secret is in the output
and the commands did not refuse).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from stowflow.cli.app import main
from stowflow.testing import assert_no_secret
from stowflow.testing.conformance import write_tree


def run(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
        *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err + caplog.text


@pytest.mark.parametrize("scheme", ["s3", "gs", "az", "file", "memory"])
@pytest.mark.parametrize("command", ["push", "pull", "versions"])
def test_userinfo_in_a_storage_url_is_refused_unprinted(
    scheme: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = f"SeCrEt{uuid.uuid4().hex}"
    write_tree(tmp_path / "src", {"a.py": b"a\n"})
    url = f"{scheme}://AKIAKEY:{secret}@bucket/prefix"
    argv = {"push": ["storage", "push", str(tmp_path / "src"), url],
            "pull": ["storage", "pull", url, str(tmp_path / "dest")],
            "versions": ["storage", "versions", url]}[command]
    code, text = run(capsys, caplog, *argv)
    assert code == 1
    assert "holds credentials" in text and "credentials block" in text
    assert "Traceback" not in text
    assert_no_secret(secret, text)


@pytest.mark.parametrize("endpoint_scheme", ["http", "https"])
def test_userinfo_in_an_endpoint_option_is_refused_unprinted(
    endpoint_scheme: str, s3_server: Any, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    secret = f"SeCrEt{uuid.uuid4().hex}"
    bucket = s3_server.create_bucket()
    host = s3_server.endpoint_url.split("://", 1)[1]
    write_tree(tmp_path / "src", {"a.py": b"a\n"})
    code, text = run(capsys, caplog, "storage", "push", str(tmp_path / "src"),
                     f"s3://{bucket}/p", "-o", f"endpoint_url={endpoint_scheme}://user:"
                     f"{secret}@{host}")
    assert code == 1
    assert "option 'endpoint_url'" in text and "holds credentials" in text
    assert_no_secret(secret, text)
