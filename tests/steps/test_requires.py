"""requires: checked against installed distribution metadata, installed with uv or pip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def _make_wheel(folder, name: str, version: str) -> None:
    """Write a minimal pure-Python wheel of distribution ``name`` into ``folder``."""
    import base64
    import hashlib
    import zipfile

    module = name.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: stowflow-tests\nRoot-Is-Purelib: true\n"
                         "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(folder / f"{module}-{version}-py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)


def test_real_install_into_an_isolated_environment(tmp_path) -> None:
    """The engine installs a missing distribution for real, into the interpreter running it.

    The interpreter is a throwaway virtualenv that sees this environment's packages through
    a .pth line, so nothing is installed into the shared environment; the package index is a
    local folder, so no network is used.
    """
    import sysconfig

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _make_wheel(wheels, "sf-requires-probe", "1.0")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "zz_shared_env.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    script = (
        "import importlib.metadata as m\n"
        "from stowflow.steps import run_steps\n"
        "out = run_steps([{'stowflow.deployments.steps.run_shell_script': {'id': 's', "
        "'requires': ['sf-requires-probe==1.0', 'pydantic>=2'], 'script': 'true', "
        "'stream_output': False}}])\n"
        "print('VERSION', m.version('sf-requires-probe'))\n"
        "import sf_requires_probe\n"
        "print('IMPORTED', sf_requires_probe.VERSION)\n"
        "try:\n"
        "    run_steps([{'stowflow.deployments.steps.run_shell_script': {'id': 'up', "
        "'requires': 'sf-requires-probe>=2', 'script': 'true'}}])\n"
        "except Exception as exc:\n"
        "    print('ERROR', type(exc).__name__, exc)\n"
    )
    env = {**os.environ, "UV_FIND_LINKS": str(wheels), "UV_NO_INDEX": "1", "UV_OFFLINE": "1",
           "PIP_FIND_LINKS": str(wheels), "PIP_NO_INDEX": "1"}
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True, env=env,
                            timeout=240)
    assert result.returncode == 0, result.stderr
    assert "VERSION 1.0" in result.stdout and "IMPORTED 1.0" in result.stdout
    assert "ERROR StepError installing sf-requires-probe>=2 (required by step 'up') failed" \
        in result.stdout
    # the shared environment was not touched
    import importlib.metadata

    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("sf-requires-probe")
