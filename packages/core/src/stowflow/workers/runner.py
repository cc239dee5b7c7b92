"""Starting a claimed run as a subprocess in a fresh workspace, and watching it.

:func:`launch` resolves what the run needs (its deployment snapshot, the pool's and the
deployment's environment — the "resolve" phase), creates ``STOWFLOW_HOME/runs/<id>/work``
and starts ``python -m stowflow.workers.execute RUN_ID`` there in its own session (so a
Ctrl-C at the worker's terminal does not reach it). The subprocess's raw stdout/stderr
go to ``runs/<id>/output.log``; whatever Python-level output it has is in the run log
already, so that file only matters when the interpreter itself dies, and then
:meth:`RunProcess.output_tail` is what the worker reports.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from stowflow.db import FlowRunRecord
from stowflow.errors import NotFoundError
from stowflow.redact import redact
from stowflow.runs import deployment_for_run, phase
from stowflow.settings import get_settings
from stowflow.workers.execute import RUN_ENV, WORKER_ENV
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
    keep: bool = False
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
            text = (self.directory / "output.log").read_text(errors="replace")
        except OSError:
            return ""
        return redact("\n".join(text.strip().splitlines()[-lines:]))

    def cleanup(self) -> None:
        """Delete the workspace (unless kept); the raw output goes with it."""
        if not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class SubprocessLauncher:
    """Runs each claimed run in ``python -m stowflow.workers.execute`` (the process worker)."""

    keep_workspaces: bool = False
    python: str = sys.executable

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
            p.details.update(deployment=f"{deployment['flow_name']}/{deployment['name']}",
                             deployment_version=run.deployment_version,
                             env=sorted(env), workspace=str(work))
        child_env = {**os.environ, **env, WORKER_ENV: worker_name, RUN_ENV: run.id,
                     "PYTHONUNBUFFERED": "1"}
        with open(base / "output.log", "wb") as output:
            process = subprocess.Popen(
                [self.python, "-m", "stowflow.workers.execute", run.id],
                cwd=work, env=child_env, stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, start_new_session=True)
        return RunProcess(run.id, process, base, keep=self.keep_workspaces)
