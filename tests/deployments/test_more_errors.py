"""The remaining error messages of the flows, steps and deployments areas, one test each."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from pydantic import SecretStr
from stowflow.blocks import Secret
from stowflow.errors import ConfigError, DeploymentError, NotFoundError, StepError, StorageError
from stowflow.steps import run_steps


def test_step_module_that_fails_to_import(monkeypatch, tmp_path: Path) -> None:
    (tmp_path / "sf_broken_steps.py").write_text("raise RuntimeError('config missing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(StepError, match="importing 'sf_broken_steps' failed: config missing"):
        run_steps([{"sf_broken_steps.go": {}}])


def test_step_module_whose_own_import_is_missing(monkeypatch, tmp_path: Path) -> None:
    (tmp_path / "sf_needy_steps.py").write_text("import sf_not_installed_dep_q\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(StepError, match="importing 'sf_needy_steps' failed"):
        run_steps([{"sf_needy_steps.go": {}}])


def test_a_stowflow_error_from_a_step_keeps_its_class_and_names_the_step(monkeypatch) -> None:
    module = types.ModuleType("sf_store_steps")

    def pull() -> None:
        raise StorageError("bucket 'b' does not exist", hint="create it")

    module.pull = pull
    monkeypatch.setitem(sys.modules, "sf_store_steps", module)
    with pytest.raises(StorageError) as info:
        run_steps([{"sf_store_steps.pull": {"id": "pull_code"}}])
    assert str(info.value) == "step 'pull_code' failed: bucket 'b' does not exist (create it)"


def test_pull_with_block_needs_get_directory() -> None:
    Secret(value=SecretStr("abcd-1234")).save("not-storage")
    with pytest.raises(StepError, match="has no get_directory method"):
        run_steps([{"stowflow.deployments.steps.pull_with_block": {
            "block_document_name": "not-storage", "block_type_slug": "secret"}}])


def test_block_storage_needs_get_directory() -> None:
    from stowflow.storage.block import BlockStorage

    with pytest.raises(StorageError, match="has no get_directory"):
        BlockStorage(object())


def test_deploy_needs_a_work_pool_name() -> None:
    from stowflow.flows.deploy import check_work_pool

    with pytest.raises(DeploymentError, match="needs a work pool name"):
        check_work_pool("")


def test_unreadable_project_file(tmp_path: Path) -> None:
    from stowflow.deployments.project import load_project

    (tmp_path / "stowflow.yaml").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_project(tmp_path / "stowflow.yaml")


def test_malformed_plugin_recipe(monkeypatch, tmp_path: Path) -> None:
    from stowflow.cli.init_cmd import render_recipe
    from stowflow.deployments import recipes as recipe_registry
    from stowflow.deployments.recipes import Recipe

    monkeypatch.setattr(recipe_registry, "recipes", lambda: {"odd": Recipe("odd", "d", "x: {unknown}\n")})
    with pytest.raises(ConfigError, match="recipe 'odd' is malformed: unknown field 'unknown'"):
        render_recipe("odd", {"project_name": "p"})


def test_delete_unknown_variable() -> None:
    from stowflow.variables import delete_variable

    with pytest.raises(NotFoundError, match="variable 'ghost' is not set"):
        delete_variable("ghost")
