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
import threading
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


@flow
def stdin_seen(out: str):
    import os
    import subprocess
    import time

    time.sleep(1)  # the worker's keepalives arrive meanwhile
    os.set_blocking(0, False)
    try:
        own = repr(os.read(0, 4096))
    except BlockingIOError:
        own = "would block"
    child = subprocess.run([sys.executable, "-c", "import sys; print(repr(sys.stdin.read()))"],
                           capture_output=True, text=True, timeout=5)
    Path(out).write_text(json.dumps({"own": own, "child": child.stdout.strip()}))
'''


def run_container_job(tmp_path: Path, job: dict,  # type: ignore[type-arg]
                      keepalive_s: float | None = None) -> list[dict]:  # type: ignore[type-arg]
    """Run the container entrypoint with ``job`` on stdin (kept open, as the worker keeps
    it: its end is the worker going away); return its messages up to the final one. With
    ``keepalive_s``, a newline follows every ``keepalive_s`` seconds, as a worker sends."""
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
        if keepalive_s is not None:
            threading.Thread(target=_keep_alive, args=(process, keepalive_s),
                             daemon=True).start()
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


def _keep_alive(process: subprocess.Popen, every_s: float) -> None:  # type: ignore[type-arg]
    """Write a newline to ``process``'s stdin every ``every_s`` seconds while it runs."""
    assert process.stdin is not None
    while process.poll() is None:
        try:
            process.stdin.write("\n")
            process.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            return
        threading.Event().wait(every_s)


def write_project(tmp_path: Path) -> Path:
    """The project folder with this module's flows."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "flows.py").write_text(FLOW)
    return project


def job(project: Path, flow: str, out: Path) -> dict:  # type: ignore[type-arg]
    """The job a worker would send for flow ``flow`` of ``project`` (parameter ``out``)."""
    return {"run_id": f"run-{flow}", "entrypoint": f"flows.py:{flow}",
            "deployment": f"{flow}/d", "parameters": {"out": str(out)}, "secrets": [],
            "pull_steps": [{"stowflow.deployments.steps.set_working_directory":
                            {"directory": str(project)}}]}


def test_a_container_run_imports_no_database_settings_or_sdk(tmp_path: Path) -> None:
    out = tmp_path / "modules.json"
    messages = run_container_job(tmp_path, job(write_project(tmp_path), "modules", out))
    assert messages[-1] == {"final": {"state": "COMPLETED", "message": None}}
    assert ["INFO", "modules written"] in [line for m in messages for line in m.get("logs", [])]
    loaded = json.loads(out.read_text())
    offending = sorted(m for m in loaded
                       if any(m == n or m.startswith(n + ".") for n in NEVER_IN_A_CONTAINER))
    assert offending == []


def test_the_flow_and_its_subprocesses_never_see_the_workers_keepalives(tmp_path: Path) -> None:
    # The worker's channel (job line, keepalive newlines) is moved off descriptor 0:
    # before, a flow reading stdin got the keepalives and a subprocess reading it to its
    # end waited for the worker to go away.
    out = tmp_path / "stdin.json"
    messages = run_container_job(tmp_path, job(write_project(tmp_path), "stdin_seen", out),
                                 keepalive_s=0.1)
    assert messages[-1] == {"final": {"state": "COMPLETED", "message": None}}, messages
    assert json.loads(out.read_text()) == {"own": "b''", "child": "''"}
