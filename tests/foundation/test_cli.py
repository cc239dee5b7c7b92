"""The CLI boundary: one red line and a non-zero exit, never a traceback; secrets off argv."""

from __future__ import annotations

import subprocess
import sys

import pytest
from stowflow.blocks import Secret
from stowflow.cli.app import main
from stowflow.testing import assert_no_secret


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stowflow.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_error_is_one_line_without_traceback():
    result = run_cli("block", "inspect", "secret/missing")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: no 'secret' block named 'missing'")


def test_debug_flag_shows_the_traceback():
    result = run_cli("--debug", "block", "inspect", "secret/missing")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_secret_from_stdin_is_saved_and_inspect_masks_it():
    result = run_cli("block", "create", "secret", "tok", stdin="stdin-secret-value\n")
    assert result.returncode == 0, result.stderr
    assert Secret.load("tok").get() == "stdin-secret-value"
    shown = run_cli("block", "inspect", "secret/tok")
    assert shown.returncode == 0 and "********" in shown.stdout
    assert_no_secret("stdin-secret-value", shown.stdout, shown.stderr, result.stdout)


def test_secret_on_argv_is_refused():
    result = run_cli("block", "create", "secret", "tok", "--set", "value=on-argv-secret")
    assert result.returncode == 1
    assert "cannot be given on the command line" in result.stderr
    assert_no_secret("on-argv-secret", result.stderr, result.stdout)


def test_register_unknown_module_names_the_distribution(capsys: pytest.CaptureFixture[str]):
    assert main(["block", "register", "-m", "stowflow_nosuch"]) == 1
    err = capsys.readouterr().err
    assert "pip install stowflow-nosuch" in err


def test_register_core_blocks(capsys: pytest.CaptureFixture[str]):
    assert main(["block", "register", "-m", "stowflow.blocks"]) == 0
    assert "secret" in capsys.readouterr().out
    assert main(["block", "types"]) == 0
    assert "stowflow.blocks.secret" in capsys.readouterr().out


def test_config_masks_the_secret_key(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]):
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("STOWFLOW_SECRET_KEY", key)
    monkeypatch.setenv("STOWFLOW_DATABASE_URL", "postgresql+psycopg://u:db-password-x@h/db")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert_no_secret(key, out)
    assert_no_secret("db-password-x", out)


def test_plugins_command_lists_the_providers(capsys: pytest.CaptureFixture[str]):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    for provider in ("aws", "gcp", "azure", "github", "gitlab", "bitbucket"):
        assert provider in out


def test_unknown_command_is_a_usage_error_not_a_traceback():
    result = run_cli("no-such-command")
    assert result.returncode == 2 and "Traceback" not in result.stderr
