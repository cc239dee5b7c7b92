"""Starting a claimed run as a subprocess in a fresh workspace, and watching it.

:func:`launch` resolves what the run needs (its deployment snapshot, the pool's and the
deployment's environment — the "resolve" phase), creates ``STOWFLOW_HOME/runs/<id>/work``
and starts ``python -m stowflow.workers.execute RUN_ID`` there in its own session (so a
Ctrl-C at the worker's terminal does not reach it). The subprocess's raw stdout/stderr
go to ``runs/<id>/output.log``; whatever Python-level output it has is in the run log
already, so that file only matters when the interpreter itself dies, and then
:meth:`RunProcess.output_tail` is what the worker reports.

Python's start-up and the imports of a run cost more than everything else a trivial run
does, so the launcher keeps a *fork server* (:mod:`~stowflow.workers.forkserver`): one
prepared interpreter with those imports done (and the stowflow step modules and block types
the pull steps of the worker's deployments use — an SDK import is often the slowest part of
a pull) that forks one process per run. A run whose job environment sets variables an
interpreter reads only at start-up (``PYTHON*`` other than ``PYTHONPATH``, ``LD_*``) gets
a fresh interpreter instead, as does any run when the fork server is not alive.
"""

from __future__ import annotations

import contextlib
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
from stowflow.workers.forkserver import ForkServer
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


class _RunInProcess:
    """What both kinds of run process share: a process group, a workspace, raw output."""

    run_id: str
    directory: Path
    output: Path
    keep: bool
    also_remove: list[Path]

    @property
    def pid(self) -> int:
        """The run process's pid (also its process group id)."""
        raise NotImplementedError

    def poll(self) -> int | None:
        """Return the exit code once finished, else ``None``."""
        raise NotImplementedError

    def wait(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for the exit code (``TimeoutError`` after)."""
        deadline = time.monotonic() + timeout
        while (code := self.poll()) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"run process {self.pid} still running after {timeout} s")
            time.sleep(0.02)
        return code

    def _signal(self, sig: signal.Signals) -> None:
        if self.poll() is None:  # never signal a group whose leader was reaped
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)

    def terminate(self) -> None:
        """Send SIGTERM to the run and everything it started."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """Send SIGKILL to the run and everything it started."""
        self._signal(signal.SIGKILL)

    def output_tail(self, lines: int = 20) -> str:
        """Return the last ``lines`` of the process's raw output, redacted."""
        try:
            text = self.output.read_text(errors="replace")
        except OSError:
            return ""
        return redact("\n".join(text.strip().splitlines()[-lines:]))

    def cleanup(self) -> None:
        """Delete the workspace (unless kept); the raw output goes with it."""
        if not self.keep:
            from stowflow.transfer.materialise import remove_tree

            for folder in (self.directory, *self.also_remove):
                remove_tree(folder)  # keeps the stamps of the cache entries it linked


@dataclass
class RunProcess(_RunInProcess):
    """A run executing in a fresh interpreter (a subprocess of the worker)."""

    run_id: str
    process: subprocess.Popen[bytes]
    directory: Path
    output: Path
    keep: bool = False
    also_remove: list[Path] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        """The run process's pid (also its process group id)."""
        return self.process.pid

    def poll(self) -> int | None:
        """Return the exit code once finished, else ``None``."""
        return self.process.poll()


@dataclass
class ForkedRun(_RunInProcess):
    """A run executing in a child of the worker's fork server."""

    run_id: str
    server: ForkServer
    forked_pid: int
    directory: Path
    output: Path
    keep: bool = False
    also_remove: list[Path] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    _code: int | None = field(default=None, init=False, repr=False)

    @property
    def pid(self) -> int:
        """The run process's pid (also its process group id)."""
        return self.forked_pid

    def poll(self) -> int | None:
        """Return the exit code once finished (as the fork server reported it), else ``None``."""
        if self._code is None:
            self._code = self.server.exit_code(self.run_id, self.forked_pid)
        return self._code


#: Job environment variables that only take effect when an interpreter starts.
_STARTUP_ONLY = ("PYTHON", "LD_", "DYLD_")


def needs_fresh_interpreter(env: dict[str, str]) -> bool:
    """Return whether ``env`` sets variables a running interpreter can no longer honour."""
    return any(key.startswith(_STARTUP_ONLY) and key != "PYTHONPATH" for key in env)


def warm_imports(pool: str | None, deployment_ids: list[str] | None) -> dict[str, list[str]]:
    """Return what the fork server should import for these deployments: their pull steps
    that belong to stowflow or its plugins (``steps``: full addresses) and the block types
    they name."""
    from sqlalchemy import or_, select

    from stowflow.db import DeploymentRecord, session
    from stowflow.placeholders import block_refs

    conditions = []
    if pool:
        conditions.append(DeploymentRecord.work_pool_name == pool)
    if deployment_ids:
        conditions.append(DeploymentRecord.id.in_(deployment_ids))
    if not conditions:
        return {"steps": [], "block_types": []}
    with session() as db:
        all_steps = list(db.scalars(select(DeploymentRecord.pull_steps).where(or_(*conditions))))
    paths: set[str] = set()
    slugs: set[str] = set()
    for steps in all_steps:
        for step in steps or []:
            if isinstance(step, dict) and len(step) == 1:
                path = str(next(iter(step)))
                if path.split(".")[0].startswith("stowflow"):
                    paths.add(path)
        slugs.update(ref.split("/", 1)[0] for ref in block_refs(steps or []))
    return {"steps": sorted(paths), "block_types": sorted(slugs)}


@dataclass
class SubprocessLauncher:
    """Runs each claimed run in a process of its own (the process worker): forked from the
    fork server, or ``python -m stowflow.workers.execute RUN_ID``.

    ``fork_server`` keeps the fork server (see the module docstring); ``warm_for`` (pool,
    deployment ids) says whose pull steps it prepares for.
    """

    keep_workspaces: bool = False
    python: str = sys.executable
    fork_server: bool = True
    warm_for: tuple[str | None, list[str] | None] | None = None
    _server: ForkServer | None = field(default=None, init=False, repr=False)

    def _child_env(self, env: dict[str, str]) -> dict[str, str]:
        # its lifeline (workers/lifeline.py)
        return {**env, "PYTHONUNBUFFERED": "1", WORKER_PID_ENV: str(os.getpid())}

    def warm(self) -> None:
        """Start the fork server unless it is alive (or switched off)."""
        if not self.fork_server or (self._server is not None and self._server.alive()):
            return
        self.close()
        plan: dict[str, list[str]] = {"steps": [], "block_types": []}
        if self.warm_for is not None:
            with contextlib.suppress(Exception):  # warming is an optimisation, never an error
                plan = warm_imports(*self.warm_for)
        folder = get_settings().home / "runs" / f".fork-server-{uuid.uuid4().hex[:12]}"
        self._server = ForkServer.start(self.python, folder, self._child_env(dict(os.environ)),
                                        plan)

    def close(self) -> None:
        """Stop the fork server (the worker is stopping)."""
        if self._server is not None:
            server, self._server = self._server, None
            server.close()

    def _fork(self, run_id: str, base: Path, work: Path, env: dict[str, str]) -> ForkedRun | None:
        server = self._server
        if server is None or not server.alive():
            return None
        pid = server.fork(run_id, env, work, base / "output.log")
        if pid is None:  # slow, hung or dead: retire it (a fresh one on the next warm())
            self._server = None
            pid = server.abandon(run_id)  # the request it holds may still become the run
            if pid is None:
                return None
        return ForkedRun(run_id, server, pid, base, base / "output.log",
                         keep=self.keep_workspaces)

    def launch(self, run: FlowRunRecord, worker_name: str) -> RunProcess | ForkedRun:
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
            fresh = not self.fork_server or needs_fresh_interpreter(env)
            p.details.update(deployment=f"{deployment['flow_name']}/{deployment['name']}",
                             deployment_version=run.deployment_version,
                             env=sorted(env), workspace=str(work))
        run_env = {**env, WORKER_ENV: worker_name, RUN_ENV: run.id}
        handle = None if fresh else self._fork(run.id, base, work, run_env)
        if handle is None:
            output = base / "output.log"
            with open(output, "wb") as out:
                process = subprocess.Popen(
                    [self.python, "-m", "stowflow.workers.execute", run.id], cwd=work,
                    env=self._child_env({**os.environ, **run_env}), stdin=subprocess.DEVNULL,
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            return RunProcess(run.id, process, base, output, keep=self.keep_workspaces)
        return handle
