"""The container side of a run (``python -m stowflow_docker.container``), run here as the
image runs it: one job on stdin, marked messages on stdout.

Every container start is a fresh interpreter, so what its entrypoint imports is paid on
every run (the process pool's fork server pays it once). The import graph is asserted, as
in ``tests/foundation/test_startup_imports.py``; the time is measured in
``benchmarks/docker/start.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from stowflow_docker.container import MARKER

#: A container has no database and installs nothing on this run: none of these is used.
NEVER_IN_A_CONTAINER = ("sqlalchemy", "alembic", "stowflow.db", "stowflow.settings",
                        "pydantic_settings", "stowflow.runs", "filelock", "docker", "requests",
                        "yaml", "rich", "typer", "cryptography", "stowflow.cli",
                        "packaging")  # no step here has requires:

FLOW = '''\
import json
import sys
from pathlib import Path

from stowflow import flow


@flow
def modules(out: str):
    Path(out).write_text(json.dumps(sorted(sys.modules)))
    print("modules written")
'''


def run_container_job(tmp_path: Path, job: dict) -> list[dict]:  # type: ignore[type-arg]
    """Run the container entrypoint with ``job`` on stdin (kept open, as the worker keeps
    it: its end is the worker going away); return its messages up to the final one."""
    env = {k: v for k, v in os.environ.items() if k != "STOWFLOW_DATABASE_URL"}
    env["STOWFLOW_HOME"] = str(tmp_path / "container-home")
    process = subprocess.Popen([sys.executable, "-m", "stowflow_docker.container"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    assert process.stdin is not None and process.stdout is not None
    messages: list[dict] = []  # type: ignore[type-arg]
    try:
        process.stdin.write(json.dumps(job) + "\n")
        process.stdin.flush()
        for line in process.stdout:
            if line.startswith(MARKER):
                messages.append(json.loads(line[len(MARKER):]))
                if "final" in messages[-1]:
                    break
        assert process.wait(timeout=60) == 0, messages  # stdin still open, as a worker's
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    return messages


def test_a_container_run_imports_no_database_settings_or_sdk(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "flows.py").write_text(FLOW)
    out = tmp_path / "modules.json"
    messages = run_container_job(tmp_path, {
        "run_id": "run-1", "entrypoint": "flows.py:modules", "deployment": "modules/d",
        "parameters": {"out": str(out)}, "secrets": [],
        "pull_steps": [{"stowflow.deployments.steps.set_working_directory":
                        {"directory": str(project)}}]})
    assert messages[-1] == {"final": {"state": "COMPLETED", "message": None}}
    assert ["INFO", "modules written"] in [line for m in messages for line in m.get("logs", [])]
    loaded = json.loads(out.read_text())
    offending = sorted(m for m in loaded
                       if any(m == n or m.startswith(n + ".") for n in NEVER_IN_A_CONTAINER))
    assert offending == []
