"""requires: checked against installed distribution metadata, installed with uv or pip."""

from __future__ import annotations

import subprocess
import sys

import pytest
from stowflow.errors import StepError
from stowflow.steps import requires
from stowflow.steps.engine import run_steps


def test_satisfied_requirements_install_nothing(monkeypatch) -> None:
    monkeypatch.setattr(requires, "run_installer", lambda *a, **k: pytest.fail("installed"))
    # distribution names that differ from their import names are checked by metadata
    assert requires.ensure_requirements(["PyYAML>=5", "pydantic-settings", "typing_extensions"]) == []
    assert requires.ensure_requirements('pywin32; sys_platform == "win32"') == []


def test_missing_or_too_old_requirements_are_installed(monkeypatch) -> None:
    seen: list[list[str]] = []

    def fake_installer(args, *, what):
        seen.append(args)
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(requires, "run_installer", fake_installer)
    with pytest.raises(StepError, match="still not satisfied"):
        requires.ensure_requirements(["pydantic>=999", "pyyaml"], step="s")
    assert seen == [["pydantic>=999"]]


@pytest.mark.parametrize(("value", "message"), [
    ("not a valid ==== req", "invalid requirement"),
    (5, "must be a string or a list"),
    ([""], "non-empty strings"),
])
def test_invalid_requires(value, message) -> None:
    with pytest.raises(StepError, match=message):
        requires.parse_requirements(value, step="s")


def test_installer_prefers_uv_then_pip(monkeypatch) -> None:
    monkeypatch.setattr(requires.shutil, "which", lambda name: "/bin/uv" if name == "uv" else None)
    assert requires.installer_command(["x"]) == ["/bin/uv", "pip", "install", "--python", sys.executable, "x"]
    monkeypatch.setattr(requires.shutil, "which", lambda name: None)
    monkeypatch.setattr(requires.importlib.util, "find_spec", lambda name: object())
    assert requires.installer_command(["x"]) == [sys.executable, "-m", "pip", "install", "x"]
    monkeypatch.setattr(requires.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(StepError, match="neither 'uv' nor pip"):
        requires.installer_command(["x"])


def test_a_failed_install_is_an_error_with_the_installer_message(tmp_path) -> None:
    # real installer, no network: a local path requirement that does not exist
    with pytest.raises(StepError) as info:
        run_steps([{"stowflow.deployments.steps.run_shell_script": {
            "id": "needs", "requires": f"sfmissing @ file://{tmp_path}/nothing-here",
            "script": "true"}}])
    assert "installing" in str(info.value) and "required by step 'needs'" in str(info.value)
    assert "nothing-here" in str(info.value)
