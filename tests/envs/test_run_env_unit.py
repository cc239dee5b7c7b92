"""The run's environment: each install makes the layer of every input so far."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from stowflow.envs import LayerSpec, read_requirements
from stowflow.envs import run as run_env
from stowflow.steps.utility_steps import pip_install_requirements
from stowflow.testing.packages import build_wheel


@pytest.fixture
def isolated_path(monkeypatch: pytest.MonkeyPatch):
    """Restore sys.path, PYTHONPATH and the current run environment afterwards."""
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", "")
    yield
    run_env.leave()


def test_requirements_join_extra_pip_packages_in_one_layer(
        tmp_path: Path, stowflow_home: Path, isolated_path: None) -> None:
    extra = build_wheel(tmp_path, "sfextra_join", "1.0")
    build_wheel(tmp_path, "sfreq_join", "1.0")
    (tmp_path / "requirements.txt").write_text("./sfreq_join-1.0-py3-none-any.whl\n")
    events: list[tuple[str, dict]] = []
    env = run_env.enter(used_by="f/d", record=lambda status, _s, details: events.append(
        (status, details)))
    first = env.install([str(extra)], source="EXTRA_PIP_PACKAGES", report=False)
    old = env.layer.path
    out = pip_install_requirements(directory=str(tmp_path))  # inside a run: into the layer
    new = env.layer.path
    assert out["cached"] == "false" and out["key"] == new.name != first["key"]
    assert (new / "sfextra_join").is_dir() and (new / "sfreq_join").is_dir()
    assert str(new) in sys.path and str(old) not in sys.path
    assert os.environ["PYTHONPATH"].split(os.pathsep)[-1] == str(new)
    requirements = read_requirements(tmp_path / "requirements.txt")
    assert new.name == LayerSpec((str(extra),), (requirements,)).key()  # both in the key
    assert new.name != LayerSpec(requirements=(requirements,)).key()
    assert [status for status, _ in events] == ["ok"]
    assert events[0][1]["source"] == "pip_install_requirements"
    assert events[0][1]["inputs"] == [str(extra), "-r requirements.txt"]

    run_env.leave()
    assert run_env.current() is None  # outside a run the step installs in place again


def test_a_steps_requires_inside_a_run_goes_into_the_layer(
        tmp_path: Path, stowflow_home: Path, isolated_path: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    from stowflow.steps.requires import ensure_requirements

    build_wheel(tmp_path, "sfreq_engine", "1.4")
    monkeypatch.setenv("UV_FIND_LINKS", str(tmp_path))
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    env = run_env.enter(used_by="f/d")
    assert ensure_requirements("sfreq-engine>=1.2", step="s") == ["sfreq-engine>=1.2"]
    assert env.layer is not None and (env.layer.path / "sfreq_engine").is_dir()
    assert importlib.metadata.version("sfreq-engine") == "1.4"  # found through the layer
    sys.path.remove(str(env.layer.path))
    importlib.invalidate_caches()
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("sfreq-engine")  # not in the interpreter itself
