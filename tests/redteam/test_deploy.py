"""stowflow deploy with a misspelled pull step: the error comes at deploy, not on the worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from stowflow.db import DeploymentRecord, WorkPoolRecord, session


def deployment_names() -> list[str]:
    with session() as db:
        return list(db.scalars(select(DeploymentRecord.name)))


FLOW = "from stowflow import flow\n\n@flow\ndef etl(n: int = 1):\n    return n\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text(FLOW)
    monkeypatch.chdir(root)
    with session() as db:
        db.add(WorkPoolRecord(name="p"))
    return root


def write_yaml(root: Path, step: str) -> None:
    (root / "stowflow.yaml").write_text(
        f"pull:\n- {step}:\n    directory: .\n"
        "deployments:\n- {name: a, entrypoint: flows/etl.py:etl, work_pool: {name: p}}\n")


@pytest.mark.parametrize(("step", "expected"), [
    ("stowflow.deployments.steps.set_working_dir", "has no step 'set_working_dir'"),
    ("stowflow.deployments.stepz.set_working_directory",
     "there is no module 'stowflow.deployments.stepz'"),
    ("stowflow_aws.deployments.steps.pull_from_s4", "has no step 'pull_from_s4'"),
])
@pytest.mark.parametrize("dry_run", [False, True])
def test_misspelled_pull_step_fails_at_deploy(project: Path, fails_cleanly, step: str,
                                              expected: str, dry_run: bool) -> None:
    write_yaml(project, step)
    message = fails_cleanly("deploy", *(["--dry-run"] if dry_run else []))
    assert expected in message and "pip install stowflow" not in message
    assert deployment_names() == []


def test_step_of_a_package_not_installed_here_is_left_to_the_worker(project: Path, capsys) -> None:
    # the worker may get it through EXTRA_PIP_PACKAGES, so deploy cannot judge it
    from stowflow.cli.app import main

    write_yaml(project, "stowflow_not_installed_here.steps.pull")
    assert main(["deploy"]) == 0, capsys.readouterr().err
    assert deployment_names() == ["a"]


def test_correct_pull_step_deploys(project: Path, capsys) -> None:
    from stowflow.cli.app import main

    write_yaml(project, "stowflow.deployments.steps.set_working_directory")
    assert main(["deploy"]) == 0, capsys.readouterr().err
