"""Starting a claimed run as a subprocess in a fresh workspace, and watching it.

:func:`launch` resolves what the run needs (its deployment snapshot, the pool's and the
deployment's environment — the "resolve" phase), creates ``STOWFLOW_HOME/runs/<id>/work``
and starts ``python -m stowflow.workers.execute RUN_ID`` there in its own session (so a
Ctrl-C at the worker's terminal does not reach it). The subprocess's raw stdout/stderr
go to ``runs/<id>/output.log``; whatever Python-level output it has is in the run log
already, so that file only matters when the interpreter itself dies, and then
:meth:`RunProcess.output_tail` is what the worker reports.

Python's start-up and imports cost more than everything else a local run does, so the
launcher keeps one *standby* interpreter (``execute --standby``) warm: imports done,
database connected, waiting on stdin. A claimed run is handed to it (run id, environment,
working directory) and a new standby is started. A run whose job environment sets
variables the interpreter reads only at start-up (``PYTHON*`` other than ``PYTHONPATH``,
``LD_*``) gets a fresh interpreter instead, as does any run when no standby is alive.
The standby also pre-imports the stowflow step modules and block types that the pull
steps of the worker's deployments use (an SDK import is often the slowest part of a pull).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from stowflow.db import FlowRunRecord
from stowflow.errors import NotFoundError
from stowflow.redact import redact
from stowflow.runs import deployment_for_run, phase
from stowflow.settings import get_settings
from stowflow.workers.execute import RUN_ENV, WORKER_ENV
from stowflow.workers.lifeline import WORKER_PID_ENV
from stowflow.workers.pools import get_pool, job_env


class RunHandle(Protocol):
    """What a worker needs from a started run (a subprocess, or a test double)."""

    run_id: str

    def poll(self) -> int | None:
        """Return the exit code once finished, else ``None``."""
        ...

    def terminate(self) -> None:
        """Ask the run to stop."""
        ...

    def kill(self) -> None:
        """Stop the run now."""
        ...

    def output_tail(self) -> str:
        """Return the last lines the run wrote outside the run log (redacted)."""
        ...

    def cleanup(self) -> None:
        """Remove the run's workspace."""
        ...


class Launcher(Protocol):
    """Starts claimed runs; :class:`SubprocessLauncher` is the real one."""

    def launch(self, run: FlowRunRecord, worker_name: str) -> RunHandle:
        """Start ``run`` for ``worker_name`` and return its handle."""
        ...


def run_dir(run_id: str) -> Path:
    """Return the folder of one run on this node: ``STOWFLOW_HOME/runs/<id>``."""
    return get_settings().home / "runs" / run_id


@dataclass
class RunProcess:
    """A run executing in a subprocess."""

    run_id: str
    process: subprocess.Popen[bytes]
    directory: Path
    output: Path
    keep: bool = False
    also_remove: list[Path] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def poll(self) -> int | None:
        """Return the exit code once finished, else ``None``."""
        return self.process.poll()

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def terminate(self) -> None:
        """Send SIGTERM to the run and everything it started."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """Send SIGKILL to the run and everything it started."""
        self._signal(signal.SIGKILL)

    def output_tail(self, lines: int = 20) -> str:
        """Return the last ``lines`` of the subprocess's raw output, redacted."""
        try:
            text = self.output.read_text(errors="replace")
        except OSError:
            return ""
        return redact("\n".join(text.strip().splitlines()[-lines:]))

    def cleanup(self) -> None:
        """Delete the workspace (unless kept); the raw output goes with it."""
        if not self.keep:
            for folder in (self.directory, *self.also_remove):
                shutil.rmtree(folder, ignore_errors=True)


#: Job environment variables that only take effect when an interpreter starts.
_STARTUP_ONLY = ("PYTHON", "LD_", "DYLD_")


def needs_fresh_interpreter(env: dict[str, str]) -> bool:
    """Return whether ``env`` sets variables a running interpreter can no longer honour."""
    return any(key.startswith(_STARTUP_ONLY) and key != "PYTHONPATH" for key in env)


def warm_imports(pool: str | None, deployment_ids: list[str] | None) -> dict[str, list[str]]:
    """Return what a standby should import for these deployments: the modules of their
    pull steps that belong to stowflow or its plugins, and the block types they name."""
    from sqlalchemy import or_, select

    from stowflow.db import DeploymentRecord, session
    from stowflow.placeholders import block_refs

    conditions = []
    if pool:
        conditions.append(DeploymentRecord.work_pool_name == pool)
    if deployment_ids:
        conditions.append(DeploymentRecord.id.in_(deployment_ids))
    if not conditions:
        return {"modules": [], "block_types": []}
    with session() as db:
        all_steps = list(db.scalars(select(DeploymentRecord.pull_steps).where(or_(*conditions))))
    modules: set[str] = set()
    slugs: set[str] = set()
    for steps in all_steps:
        for step in steps or []:
            if isinstance(step, dict) and len(step) == 1:
                module = str(next(iter(step))).rpartition(".")[0]
                if module.split(".")[0].startswith("stowflow"):
                    modules.add(module)
        slugs.update(ref.split("/", 1)[0] for ref in block_refs(steps or []))
    return {"modules": sorted(modules), "block_types": sorted(slugs)}


@dataclass
class SubprocessLauncher:
    """Runs each claimed run in ``python -m stowflow.workers.execute`` (the process worker).

    ``standby`` keeps one warm interpreter ready (see the module docstring); ``warm_for``
    (pool, deployment ids) says whose pull steps it prepares for.
    """

    keep_workspaces: bool = False
    python: str = sys.executable
    standby: bool = True
    warm_for: tuple[str | None, list[str] | None] | None = None
    _spare: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _spare_dir: Path | None = field(default=None, init=False, repr=False)

    def _popen(self, args: list[str], cwd: Path, env: dict[str, str], output: Path,
               stdin: int) -> subprocess.Popen[bytes]:
        env = {**env, WORKER_PID_ENV: str(os.getpid())}  # its lifeline (workers/lifeline.py)
        with open(output, "wb") as out:
            return subprocess.Popen([self.python, "-m", "stowflow.workers.execute", *args],
                                    cwd=cwd, env=env, stdin=stdin, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def warm(self) -> None:
        """Start a standby interpreter unless one is alive (or standby is off)."""
        if not self.standby or (self._spare is not None and self._spare.poll() is None):
            return
        self._discard_spare()
        folder = get_settings().home / "runs" / f".standby-{uuid.uuid4().hex[:12]}"
        folder.mkdir(parents=True)
        self._spare_dir = folder
        plan: dict[str, list[str]] = {"modules": [], "block_types": []}
        if self.warm_for is not None:
            with contextlib.suppress(Exception):  # warming is an optimisation, never an error
                plan = warm_imports(*self.warm_for)
        self._spare = self._popen(["--standby", json.dumps(plan)], folder, {**os.environ, "PYTHONUNBUFFERED": "1"},
                                  folder / "output.log", subprocess.PIPE)

    def _discard_spare(self) -> None:
        if self._spare is not None:
            if self._spare.poll() is None:
                with contextlib.suppress(OSError):
                    os.killpg(self._spare.pid, signal.SIGKILL)
                self._spare.wait(timeout=10)
            if self._spare.stdin is not None:
                with contextlib.suppress(OSError):
                    self._spare.stdin.close()
        if self._spare_dir is not None:
            shutil.rmtree(self._spare_dir, ignore_errors=True)
        self._spare, self._spare_dir = None, None

    def close(self) -> None:
        """Stop the standby interpreter (the worker is stopping)."""
        self._discard_spare()

    def _hand_over(self, run_id: str, base: Path, work: Path,
                   env: dict[str, str]) -> RunProcess | None:
        spare, folder = self._spare, self._spare_dir
        if spare is None or folder is None or spare.poll() is not None or spare.stdin is None:
            return None
        message = json.dumps({"run_id": run_id, "env": env, "cwd": str(work)}) + "\n"
        try:
            spare.stdin.write(message.encode())
            spare.stdin.close()
        except OSError:  # it died meanwhile
            self._discard_spare()
            return None
        self._spare, self._spare_dir = None, None
        return RunProcess(run_id, spare, base, folder / "output.log",
                          keep=self.keep_workspaces, also_remove=[folder])

    def launch(self, run: FlowRunRecord, worker_name: str) -> RunProcess:
        """Resolve the run's deployment and environment, make its workspace, start it."""
        with phase(run.id, "resolve") as p:
            deployment = deployment_for_run(run)
            pool = None
            if run.work_pool_name:
                with contextlib.suppress(NotFoundError):
                    pool = get_pool(run.work_pool_name)
            env = job_env(pool, deployment.get("job_variables"))
            base = run_dir(run.id)
            if base.exists():  # a stale folder from an earlier attempt is never reused
                shutil.rmtree(base)
            work = base / "work"
            work.mkdir(parents=True)
            fresh = not self.standby or needs_fresh_interpreter(env)
            p.details.update(deployment=f"{deployment['flow_name']}/{deployment['name']}",
                             deployment_version=run.deployment_version,
                             env=sorted(env), workspace=str(work))
        run_env = {**env, WORKER_ENV: worker_name, RUN_ENV: run.id}
        handle = None if fresh else self._hand_over(run.id, base, work, run_env)
        if handle is None:
            handle = RunProcess(run.id, self._popen(
                [run.id], work, {**os.environ, **run_env, "PYTHONUNBUFFERED": "1"},
                base / "output.log", subprocess.DEVNULL), base, base / "output.log",
                keep=self.keep_workspaces)
        return handle
