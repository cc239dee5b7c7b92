"""Environment layers: built once per input list, outside the worker's environment."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from stowflow.envs import layers as envlayer
from stowflow.errors import RunError
from stowflow.testing.packages import build_wheel


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No package index: the tests install local wheel files only."""
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")


def test_parse_and_key_ignore_order_and_separators():
    assert envlayer.parse_packages(" a>=1, b  c ") == ["a>=1", "b", "c"]
    assert envlayer.parse_packages(None) == []
    assert envlayer.layer_key(["b", "a"]) == envlayer.layer_key(["a", "b", "a"])
    assert envlayer.layer_key(["a"]) != envlayer.layer_key(["a==2"])


def test_layer_is_built_once_and_reused(tmp_path, stowflow_home):
    wheel = build_wheel(tmp_path, "sfdemo_pkg", "1.2")
    layer = envlayer.ensure_layer([str(wheel)])
    assert layer.built and (layer.path / "sfdemo_pkg" / "__init__.py").exists()
    assert layer.path.is_relative_to(stowflow_home / "cache" / "envlayers")
    again = envlayer.ensure_layer([str(wheel)])
    assert again.path == layer.path and not again.built
    # the worker's own interpreter never sees it
    assert importlib.util.find_spec("sfdemo_pkg") is None


def test_activate_makes_the_layer_importable_in_a_fresh_process(tmp_path):
    wheel = build_wheel(tmp_path, "sfdemo_pkg2", "3.0")
    layer = envlayer.ensure_layer([str(wheel)]).path
    code = ("import sys; from pathlib import Path; from stowflow.envs import activate;"
            f"activate(Path({str(layer)!r})); import sfdemo_pkg2, importlib.metadata as m;"
            "print(sfdemo_pkg2.VERSION, m.version('sfdemo_pkg2'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.split() == ["3.0", "3.0"]


def test_failed_install_raises_with_the_installers_message(tmp_path):
    missing = tmp_path / "nope-1.0-py3-none-any.whl"
    with pytest.raises(RunError) as info:
        envlayer.ensure_layer([str(missing)])
    message = str(info.value)
    assert message.startswith("installing the run's packages (") and "nope-1.0" in message
    assert "worker's environment was not changed" in message
    leftovers = [p for p in envlayer.layers_root().iterdir()
                 if not p.name.endswith((".lock", ".lease"))]
    assert leftovers == []


def test_extra_packages_the_worker_already_has_are_not_installed_again() -> None:
    from stowflow.envs.layers import split_installed

    wanted, present = split_installed([
        "pluggy", "pluggy>=1", "pluggy<0.1", "--index-url", "https://i.example/simple",
        "stowflow-not-a-real-dist", "pluggy", "@", "https://h/p.whl", "-f", "pluggy"])
    assert present == ["pluggy", "pluggy>=1"]
    # a version the worker lacks, options and their values, URLs: all go to the installer
    assert wanted == ["pluggy<0.1", "--index-url", "https://i.example/simple",
                      "stowflow-not-a-real-dist", "pluggy", "@", "https://h/p.whl", "-f", "pluggy"]
