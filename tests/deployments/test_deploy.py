"""deploy_project: build/push once per invocation, unresolved pull steps, dry run, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from stowflow.db import DeploymentRecord, session
from stowflow.deployments.deploy import deploy_project
from stowflow.errors import DeploymentError, FlowError

YAML = """\
build:
- sf_test_steps.record:
    id: build_it
    phase: build
push:
- sf_test_steps.record:
    id: push_code
    phase: push
    bucket: bkt-{{ build_it.folder }}
pull:
- sf_test_steps.record:
    id: pull_code
    bucket: "{{ push_code.bucket }}"
    credentials: "{{ stowflow.blocks.secret.my-token }}"
    region: "{{ stowflow.variables.region }}"
    home: "{{ $HOME }}"
deployments:
- name: one
  entrypoint: flows/etl.py:etl
  parameters: {count: 2}
  work_pool: {name: pool-a, job_variables: {env: {B: "{{ push_code.bucket }}"}}}
- name: two
  entrypoint: flows/etl.py:etl
  work_pool: {name: pool-a}
  tags: [x]
"""


def _calls(root: Path) -> list[dict]:
    log = root / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_build_and_push_run_once_for_all_deployments(project: Path, pool: str) -> None:
    (project / "stowflow.yaml").write_text(YAML)
    report = deploy_project(project / "stowflow.yaml", all_=True)
    calls = _calls(project)
    assert [c["phase"] for c in calls] == ["build", "push"]  # once, not once per deployment
    assert calls[1]["bucket"] == "bkt-f"
    assert report.step_runs == 2 and [d.name for d in report.deployments] == ["one", "two"]
    with session() as db:
        records = {r.name: r for r in db.scalars(select(DeploymentRecord))}
    one = records["one"]
    assert one.flow_name == "etl-flow" and one.version == "1.2"
    assert one.description == "Extract, transform, load."
    assert one.parameters == {"count": 2}
    assert one.job_variables == {"env": {"B": "bkt-f"}}
    assert set(one.parameter_schema["properties"]) == {"name", "count", "when"}
    step = one.pull_steps[0]["sf_test_steps.record"]
    # push outputs are filled in; blocks, variables and env stay for the worker
    assert step["bucket"] == "bkt-f"
    assert step["credentials"] == "{{ stowflow.blocks.secret.my-token }}"
    assert step["region"] == "{{ stowflow.variables.region }}"
    assert step["home"] == "{{ $HOME }}"
    assert records["two"].tags == ["x"]


def test_redeploy_keeps_id_and_bumps_version(project: Path, pool: str) -> None:
    (project / "stowflow.yaml").write_text(YAML)
    first = deploy_project(project / "stowflow.yaml", ["one"]).deployments[0].id
    second = deploy_project(project / "stowflow.yaml", ["one"]).deployments[0].id
    assert first == second
    with session() as db:
        assert db.get(DeploymentRecord, first).version_number == 2


def test_default_pull_step_is_the_project_folder(project: Path, pool: str) -> None:
    (project / "stowflow.yaml").write_text(
        "deployments:\n- name: d\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool-a}\n")
    plan = deploy_project(project / "stowflow.yaml").deployments[0]
    assert plan.pull_steps == [
        {"stowflow.deployments.steps.set_working_directory": {"directory": str(project)}}]


def test_dry_run_runs_nothing_writes_nothing_and_lists_files(project: Path) -> None:
    (project / "stowflow.yaml").write_text(YAML)
    (project / ".stowflowignore").write_text("data.txt\n")
    (project / "keep.txt").write_text("12345")
    report = deploy_project(project / "stowflow.yaml", all_=True, dry_run=True)
    assert _calls(project) == []
    assert report.dry_run and len(report.deployments) == 2
    paths = dict(report.push_preview.files)
    assert "keep.txt" in paths and "flows/etl.py" in paths
    assert "data.txt" not in paths and ".venv/ignored.py" not in paths
    assert report.push_preview.total_bytes == sum(paths.values())
    with session() as db:
        assert db.scalars(select(DeploymentRecord)).all() == []


def test_per_deployment_push_override_runs_its_own_steps_once(project: Path, pool: str) -> None:
    text = YAML.replace("  tags: [x]\n", "  tags: [x]\n  push:\n  - sf_test_steps.record:\n"
                        "      id: push_code\n      phase: own-push\n")
    (project / "stowflow.yaml").write_text(text)
    deploy_project(project / "stowflow.yaml", all_=True)
    assert [c["phase"] for c in _calls(project)] == ["build", "push", "build", "own-push"]


@pytest.mark.parametrize(
    ("yaml_text", "names", "all_", "message"),
    [
        ("deployments: []\n", [], False, "defines no deployments"),
        (YAML, [], False, "which deployment?"),
        (YAML, ["nope"], False, "no deployment named 'nope'"),
        ("deployments:\n- {name: d, entrypoint: flows/etl.py:etl}\n", [], False, "has no work pool"),
        ("deployments:\n- {name: d, entrypoint: flows/etl.py:etl, work_pool: {name: ghost}}\n",
         [], False, "work pool 'ghost' does not exist"),
    ],
)
def test_deploy_errors(project: Path, pool: str, yaml_text, names, all_, message) -> None:
    (project / "stowflow.yaml").write_text(yaml_text)
    with pytest.raises(DeploymentError, match=message):
        deploy_project(project / "stowflow.yaml", names, all_=all_)
    assert _calls(project) == []  # nothing was built or pushed before the error


def test_bad_default_parameters_are_refused(project: Path, pool: str) -> None:
    (project / "stowflow.yaml").write_text(
        "deployments:\n- name: d\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool-a}\n"
        "  parameters: {count: many}\n")
    with pytest.raises(FlowError, match="parameter 'count'"):
        deploy_project(project / "stowflow.yaml")


def test_unknown_parameter_is_refused_unless_not_enforced(project: Path, pool: str) -> None:
    base = ("deployments:\n- name: d\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool-a}\n"
            "  parameters: {colour: red}\n")
    (project / "stowflow.yaml").write_text(base)
    with pytest.raises(FlowError, match="has no parameter 'colour'"):
        deploy_project(project / "stowflow.yaml")
    (project / "stowflow.yaml").write_text(base + "  enforce_parameter_schema: false\n")
    assert deploy_project(project / "stowflow.yaml").deployments[0].id


def test_entrypoint_outside_the_project_is_refused(project: Path, pool: str) -> None:
    (project / "stowflow.yaml").write_text(
        "deployments:\n- {name: d, entrypoint: ../x.py:f, work_pool: {name: pool-a}}\n")
    with pytest.raises(FlowError, match="outside the source root"):
        deploy_project(project / "stowflow.yaml")


def test_dry_run_uses_the_push_steps_ignore_file(project: Path) -> None:
    (project / "stowflow.yaml").write_text(YAML.replace(
        "    phase: push\n", "    phase: push\n    ignore_file: deploy.ignore\n"))
    (project / "deploy.ignore").write_text("flows/\n")
    (project / ".stowflowignore").write_text("data.txt\n")
    report = deploy_project(project / "stowflow.yaml", all_=True, dry_run=True)
    paths = dict(report.push_preview.files)
    assert "data.txt" in paths and "flows/etl.py" not in paths
