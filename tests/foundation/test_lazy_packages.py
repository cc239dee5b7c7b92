"""A lazy package's public name that is also the name of one of its submodules stays the
public object after the submodule is imported (it became the module object, and
``transfer.pull(...)`` failed with "'module' object is not callable" once any code had
imported ``stowflow.transfer.pull``)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

PACKAGES = ["stowflow", "stowflow.storage", "stowflow.workers", "stowflow.deployments.steps",
            "stowflow.transfer", "stowflow_aws", "stowflow_gcp", "stowflow_azure"]


def clashing_names(package: str) -> list[str]:
    module = importlib.import_module(package)
    submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
    return sorted(submodules & set(getattr(module, "__all__", [])))


@pytest.mark.parametrize("package", PACKAGES)
def test_public_names_survive_their_submodules_import(package: str) -> None:
    for name in clashing_names(package):
        code = (f"import types, {package}.{name}\n"
                f"import {package} as package\n"
                f"value = getattr(package, {name!r})\n"
                f"assert not isinstance(value, types.ModuleType), value\n")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_the_clashing_names_are_known() -> None:
    assert clashing_names("stowflow.transfer") == ["pull", "push"]
    assert clashing_names("stowflow.storage") == ["resolve"]
