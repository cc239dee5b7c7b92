"""stowflow init: recipes, git origin without user info, no overwrite without --force."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from stowflow.cli.app import main
from stowflow.deployments.project import load_project
from stowflow.testing import assert_no_secret


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "my-proj"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text("from stowflow import flow\n\n@flow\ndef etl():\n    pass\n")
    monkeypatch.chdir(root)
    return root


def test_local_recipe_writes_a_valid_project_and_ignore_file(folder: Path) -> None:
    assert main(["init"]) == 0
    config = load_project(folder / "stowflow.yaml")
    assert config.deployments[0].name == "my-proj"
    assert config.deployments[0].entrypoint == "flows/etl.py:etl"
    assert config.pull == [{"stowflow.deployments.steps.set_working_directory": {"directory": str(folder)}}]
    ignore = (folder / ".stowflowignore").read_text()
    assert ".git/" in ignore and ".venv/" in ignore and ".env" in ignore and "__pycache__/" in ignore


def test_never_overwrites_without_force(folder: Path, capsys) -> None:
    (folder / "stowflow.yaml").write_text("mine: true\n")
    assert main(["init"]) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err
    assert (folder / "stowflow.yaml").read_text() == "mine: true\n"
    (folder / ".stowflowignore").write_text("custom\n")
    (folder / "stowflow.yaml").unlink()
    assert main(["init"]) == 0
    assert (folder / ".stowflowignore").read_text() == "custom\n"  # kept
    assert main(["init", "--force"]) == 0
    assert "custom" not in (folder / ".stowflowignore").read_text()


def test_git_recipe_strips_user_info_from_origin(folder: Path) -> None:
    token = "ghp_SuperSecretToken123"
    subprocess.run(["git", "init", "-q", "-b", "trunk"], check=True)
    subprocess.run(["git", "remote", "add", "origin", f"https://bob:{token}@git.example.test/org/repo.git"],
                   check=True)
    assert main(["init", "--recipe", "git"]) == 0
    config = load_project(folder / "stowflow.yaml")
    step = config.pull[0]["stowflow.deployments.steps.git_clone"]
    assert step == {"id": "clone", "repository": "https://git.example.test/org/repo.git", "branch": "trunk"}
    assert_no_secret(token, folder / "stowflow.yaml")


def test_git_recipe_without_origin_says_what_to_do(folder: Path, capsys) -> None:
    subprocess.run(["git", "init", "-q"], check=True)
    assert main(["init", "--recipe", "git"]) == 1
    err = capsys.readouterr().err
    assert "'origin' remote" in err and "--repository" in err


def test_git_recipe_with_explicit_repository(folder: Path) -> None:
    assert main(["init", "--recipe", "git", "--repository", "https://u:p4ssw0rd@h.test/r.git",
                 "--branch", "dev"]) == 0
    step = load_project(folder / "stowflow.yaml").pull[0]["stowflow.deployments.steps.git_clone"]
    assert step["repository"] == "https://h.test/r.git" and step["branch"] == "dev"


def test_unknown_recipe_lists_the_known_ones(folder: Path, capsys) -> None:
    assert main(["init", "--recipe", "nope"]) == 1
    err = capsys.readouterr().err
    assert "unknown recipe 'nope'" in err and "git" in err and "local" in err


@pytest.mark.parametrize(("recipe", "dist"), [("s3", "stowflow-aws"), ("gcs", "stowflow-gcp"),
                                              ("azure", "stowflow-azure")])
def test_provider_recipe_without_its_plugin_names_the_distribution(
        folder: Path, capsys, monkeypatch, recipe, dist) -> None:
    from stowflow.cli import init_cmd

    monkeypatch.setenv("STOWFLOW_PLUGINS", "none-of-the-providers")
    monkeypatch.setattr(init_cmd, "_installed", lambda name: False)
    assert main(["init", "--recipe", recipe]) == 1
    assert f"comes with {dist}, which is not installed" in capsys.readouterr().err


def test_provider_recipe_installed_but_not_registering(folder: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("STOWFLOW_PLUGINS", "none-of-the-providers")
    assert main(["init", "--recipe", "gcs"]) == 1
    assert "stowflow-gcp is installed but registers no 'gcs' recipe" in capsys.readouterr().err


def test_a_registered_provider_recipe_is_used(folder: Path) -> None:
    assert main(["init", "--recipe", "gcs", "--name", "demo"]) == 0
    config = load_project(folder / "stowflow.yaml")
    assert "stowflow_gcp.deployments.steps.push_to_gcs" in config.push[0]


def test_entrypoint_found_with_ast_and_odd_folder_names_are_safe(tmp_path, monkeypatch) -> None:
    root = tmp_path / "My Project: #1"
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "lib" / "a.py").write_text("from x import flow\n@flow\ndef hidden():\n    pass\n")
    (root / "src").mkdir()
    (root / "src" / "jobs.py").write_text(
        "import stowflow\n\n\n@stowflow.flow(\n    name='multi',\n    retries=2,\n)\n"
        "async def nightly():\n    pass\n")
    (root / "src" / "broken.py").write_text("def (:\n")
    monkeypatch.chdir(root)
    assert main(["init"]) == 0
    config = load_project(root / "stowflow.yaml")
    assert config.deployments[0].name == "my-project-1"
    assert config.deployments[0].entrypoint == "src/jobs.py:nightly"
    assert config.pull[0]["stowflow.deployments.steps.set_working_directory"]["directory"] == str(root)


def test_no_flow_found_gives_a_placeholder_entrypoint(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--name", "x"]) == 0
    assert load_project(tmp_path / "stowflow.yaml").deployments[0].entrypoint == "flows/my_flow.py:my_flow"
