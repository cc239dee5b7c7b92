"""stowflow.yaml to a run-ready workspace: push through the sync engine, store the pull
steps unresolved, then resolve and run them as a worker does, and call the flow."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select
from stowflow.cli.app import main
from stowflow.db import DeploymentRecord, WorkPoolRecord, session
from stowflow.flows import load_flow_from_entrypoint
from stowflow.steps import run_steps
from stowflow.variables import set_variable

YAML = """\
push:
- stowflow.deployments.steps.push_to_remote_storage:
    id: push_code
    url: "memory://{bucket}/{{{{ $SF_E2E_FOLDER }}}}"
pull:
- stowflow.deployments.steps.pull_from_remote_storage:
    id: pull_code
    url: "{{{{ push_code.url }}}}"
- stowflow.deployments.steps.run_shell_script:
    script: echo "{{{{ stowflow.variables.greeting }}}}" > greeting.txt
    directory: "{{{{ pull_code.directory }}}}"
    stream_output: false
deployments:
- name: e2e
  entrypoint: flows/hello.py:hello
  parameters: {{name: yaml}}
  work_pool: {{name: pool}}
"""

FLOW = '''
from pathlib import Path
from stowflow import flow

@flow
def hello(name: str = "x") -> str:
    return Path("greeting.txt").read_text().strip() + " " + name
'''


def test_yaml_push_store_pull_run(tmp_path: Path, monkeypatch) -> None:
    project = tmp_path / "project"
    (project / "flows").mkdir(parents=True)
    (project / "flows" / "hello.py").write_text(FLOW)
    (project / ".env").write_text("NEVER_UPLOADED=1\n")
    (project / "stowflow.yaml").write_text(YAML.format(bucket=f"e2e-{tmp_path.name}"))
    monkeypatch.setenv("SF_E2E_FOLDER", "code-v1")
    with session() as db:
        db.add(WorkPoolRecord(name="pool"))
    monkeypatch.chdir(project)
    assert main(["deploy"]) == 0

    with session() as db:
        record = db.scalars(select(DeploymentRecord)).one()
    pull_steps, entrypoint = record.pull_steps, record.entrypoint
    # the push output is filled in; the variable stays a placeholder until run time
    assert pull_steps[0]["stowflow.deployments.steps.pull_from_remote_storage"]["url"] == \
        f"memory://e2e-{tmp_path.name}/code-v1"
    assert "{{ stowflow.variables.greeting }}" in \
        pull_steps[1]["stowflow.deployments.steps.run_shell_script"]["script"]

    # on the "worker": a fresh workspace, the variable set after deploying
    set_variable("greeting", "hello from run time")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    monkeypatch.chdir(workspace)
    outputs = run_steps(pull_steps)
    code = Path(outputs["directory"])
    assert code.parent == workspace and outputs["version"]
    assert not (code / ".env").exists()  # the default ignore rules kept it out
    os.chdir(code)
    flow = load_flow_from_entrypoint(entrypoint, code)
    assert flow(**flow.validate_parameters(record.parameters)) == "hello from run time yaml"
