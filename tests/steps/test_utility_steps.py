"""Core utility steps run for real: shell scripts, working directory, requirements."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from stowflow.errors import StepError
from stowflow.redact import register_secret
from stowflow.steps import run_steps
from stowflow.steps.utility_steps import (
    pip_install_requirements,
    run_shell_script,
    set_working_directory,
)
from stowflow.testing import assert_no_secret


def test_one_shell_per_script_env_merged(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SF_BASE", "base")
    (tmp_path / "sub").mkdir()
    out = run_shell_script("cd sub\nexport X=1\necho \"$(basename $PWD) $X $SF_BASE $EXTRA\"",
                           directory=str(tmp_path), env={"EXTRA": 5}, stream_output=False)
    assert out["stdout"] == "sub 1 base 5"


def test_expand_env_vars_before_the_shell(monkeypatch) -> None:
    out = run_shell_script("printf '%s' '$SF_ONLY_HERE ${SF_ONLY_HERE} $SF_UNKNOWN_Q'",
                           env={"SF_ONLY_HERE": "v"}, expand_env_vars=True, stream_output=False)
    assert out["stdout"] == "v v $SF_UNKNOWN_Q"


def test_streams_output(capfd) -> None:
    run_shell_script("echo streamed-line", stream_output=True)
    assert "streamed-line" in capfd.readouterr().out


def test_failure_reports_exit_code_and_sanitised_stderr() -> None:
    secret = "tok-9f8e7d6c5b"
    register_secret(secret)
    with pytest.raises(StepError) as info:
        run_shell_script(f"echo 'auth failed for {secret}' >&2; exit 3", stream_output=False)
    assert "exited with code 3" in str(info.value) and "auth failed for ***" in str(info.value)
    assert_no_secret(secret, str(info.value))


def test_stops_at_the_first_failing_command(tmp_path: Path) -> None:
    with pytest.raises(StepError):
        run_shell_script(f"false\ntouch {tmp_path}/after", stream_output=False)
    assert not (tmp_path / "after").exists()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"script": ""}, "non-empty string"),
    ({"script": "true", "directory": "/no/such/dir"}, "does not exist"),
])
def test_shell_argument_errors(kwargs, message) -> None:
    with pytest.raises(StepError, match=message):
        run_shell_script(**kwargs)


def test_set_working_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "code").mkdir()
    out = run_steps([{"stowflow.deployments.steps.set_working_directory": {"directory": "code"}}])
    assert out["directory"] == str((tmp_path / "code").resolve()) == os.getcwd()
    with pytest.raises(StepError, match="is not a directory"):
        set_working_directory(str(tmp_path / "nope"))


def test_pip_install_requirements_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StepError, match="no requirements file"):
        pip_install_requirements(directory=str(tmp_path))


def test_pip_install_requirements_failure_carries_the_installer_message(tmp_path: Path) -> None:
    # a local path that does not exist fails inside the installer without any network
    (tmp_path / "requirements.txt").write_text(f"{tmp_path}/no-such-project-dir\n")
    with pytest.raises(StepError) as info:
        pip_install_requirements(directory=str(tmp_path))
    assert "failed (exit" in str(info.value) and "no-such-project-dir" in str(info.value)


def test_pip_install_requirements_already_satisfied(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("pydantic>=2\n")
    out = pip_install_requirements(directory=str(tmp_path))
    assert set(out) == {"stdout", "stderr"}
