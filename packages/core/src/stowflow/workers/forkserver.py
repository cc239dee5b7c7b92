"""The fork server: a prepared parent that forks one process per run.

Starting an interpreter and importing what a run needs (the database layer, the run and
step engines, the flow loader) cost about 0.8 s of CPU, more than everything else a
trivial run does. The worker therefore starts one fork server per worker
(``python -m stowflow.workers.execute --fork-server PLAN``) that imports all of that once —
plus the step modules and block types of the worker's deployments (``PLAN``) — and forks
one child per run. Each run still gets a process of its own (nothing a flow does survives
its run; its exit cleans up), only without paying for the imports again.

What the server holds is what every run may share: modules, never a database connection
(``stowflow.db`` drops any inherited engine in a forked child) and never a secret (it
loads no block values). It is in a session of its own, so a Ctrl-C at the worker's terminal
reaches neither it nor the runs.

Protocol, one JSON object per line. The worker writes ``{"run_id", "env", "cwd",
"output"}``; the server forks and answers ``{"run_id", "pid"}``, and ``{"pid", "code"}``
once it has reaped that child (``code`` as ``Popen.returncode``: negative for a signal).
The child joins a process group of its own (set on both sides of the fork, so the worker
can signal the group as soon as it knows the pid), sends its stdout/stderr to ``output``,
applies ``env`` (``PYTHONPATH`` entries also go on ``sys.path``) and ``cwd``, and runs
:func:`stowflow.workers.execute.main`. When stdin closes the server waits for its children
and exits.

Lifeline: the server watches the worker (``workers/lifeline.py``) and each child watches
the server, so when the worker dies the server exits and its runs follow within two
watch intervals.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from stowflow.workers import lifeline

#: Seconds the worker waits for the server to answer a fork request before retiring it.
ANSWER_WAIT_S = 10.0
#: Seconds a retired server still has to answer the request it holds before it is killed.
ABANDON_WAIT_S = 60.0


def _apply(request: dict[str, Any], server_pid: int) -> None:
    """In the child: become the run's process (group, output, environment, lifeline)."""
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.set_wakeup_fd(-1)
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    env: dict[str, str] = request["env"]
    os.environ.update(env)
    entries = [e for e in env.get("PYTHONPATH", "").split(os.pathsep) if e]
    sys.path[0:0] = [e for e in entries if e not in sys.path]
    os.chdir(request["cwd"])
    random.seed()  # not the sequence every sibling inherited
    # The child's parent is the server: it runs while the server does (and the server
    # while the worker does). The server's watch thread did not survive the fork.
    os.environ[lifeline.WORKER_PID_ENV] = str(server_pid)
    lifeline.reset_after_fork()
    lifeline.watch_worker()


def _child(request: dict[str, Any], server_pid: int) -> int:
    """Run one flow run in this forked process; return its exit code."""
    try:
        _apply(request, server_pid)
        from stowflow.workers.execute import main

        return main([str(request["run_id"])])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        return 1


def _exit_code(status: int) -> int:
    return os.waitstatus_to_exitcode(status)


class _Server:
    def __init__(self) -> None:
        self.children: set[int] = set()
        self.selector = selectors.DefaultSelector()
        self.reader, self.waker = os.pipe()
        os.set_blocking(self.reader, False)
        os.set_blocking(self.waker, False)
        signal.set_wakeup_fd(self.waker)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select() through the pipe
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when we stop

    def reply(self, message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self.children.discard(pid)
            with contextlib.suppress(BrokenPipeError):
                self.reply({"pid": pid, "code": _exit_code(status)})

    def fork(self, request: dict[str, Any]) -> None:
        server_pid = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                self.selector.close()
                os.close(self.reader)
                os.close(self.waker)
                code = _child(request, server_pid)
            finally:
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        with contextlib.suppress(OSError):  # the child may have done it (or exited) first
            os.setpgid(pid, pid)
        self.children.add(pid)
        self.reply({"run_id": request["run_id"], "pid": pid})

    def serve(self) -> int:
        stdin = sys.stdin.buffer
        selector = self.selector
        selector.register(stdin, selectors.EVENT_READ)
        selector.register(self.reader, selectors.EVENT_READ)
        pending = b""
        open_ = True
        while open_ or self.children:
            for key, _ in selector.select(timeout=None if open_ else 0.5):
                if key.fileobj == self.reader:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.reader, 4096)
                    continue
                chunk = os.read(stdin.fileno(), 65536)
                if not chunk:
                    open_ = False
                    selector.unregister(stdin)
                    continue
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        self.fork(json.loads(line))
            self.reap()
        return 0


def serve(plan: dict[str, list[str]] | None = None) -> int:
    """Import what every run needs (and ``plan``'s step modules and block types), then
    fork a child per request until stdin closes; return the exit code."""
    from sqlalchemy.orm import configure_mappers

    import stowflow.envs.run
    import stowflow.flows
    import stowflow.steps  # noqa: F401 - the point of this process
    from stowflow.db.engine import preload_driver
    from stowflow.workers.execute import preimport

    configure_mappers()  # else every run configures the ORM's mappers on its first query
    preload_driver()  # the database driver, without a connection (a child makes its own)
    preimport(plan or {})
    return _Server().serve()


def _running(pid: int) -> bool:
    """Return whether ``pid`` is a live (not zombie) process; reap it if it is ours."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # re-parented to us (a subreaper)
            return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class ForkServer:
    """The worker's end of the protocol: starts the server, asks it for one fork per run
    and learns each child's exit code (a reader thread)."""

    def __init__(self, process: subprocess.Popen[bytes], folder: Path) -> None:
        self.process = process
        self.folder = folder
        self._cond = threading.Condition()
        self._pids: dict[str, int] = {}  # answered forks not yet collected
        self._running: dict[int, str] = {}  # pid -> run id
        self._codes: dict[str, int] = {}  # run id -> exit code
        self._closed = False
        threading.Thread(target=self._read, name="stowflow-fork-server", daemon=True).start()

    @classmethod
    def start(cls, python: str, folder: Path, env: dict[str, str],
              plan: dict[str, list[str]]) -> ForkServer:
        """Start a fork server in ``folder`` (its own output goes to ``output.log`` there)."""
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "output.log", "wb") as out:
            process = subprocess.Popen(
                [python, "-m", "stowflow.workers.execute", "--fork-server", json.dumps(plan)],
                cwd=folder, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=out, start_new_session=True)
        return cls(process, folder)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                message = json.loads(line)
                with self._cond:
                    if "code" in message:
                        pid = int(message["pid"])
                        run_id = self._running.pop(pid, None)
                        if run_id is not None:
                            self._codes[run_id] = int(message["code"])
                    else:
                        pid = int(message["pid"])
                        self._pids[str(message["run_id"])] = pid
                        self._running[pid] = str(message["run_id"])
                    self._cond.notify_all()
            except (ValueError, KeyError, TypeError):
                continue
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def alive(self) -> bool:
        """Return whether the server still takes requests."""
        return not self._closed and self.process.poll() is None

    def fork(self, run_id: str, env: dict[str, str], cwd: Path, output: Path,
             timeout: float | None = None) -> int | None:
        """Ask for a child running ``run_id``; return its pid (``None``: the server is gone
        or did not answer within ``timeout``, default :data:`ANSWER_WAIT_S` — then see
        :meth:`abandon`)."""
        timeout = ANSWER_WAIT_S if timeout is None else timeout
        request = {"run_id": run_id, "env": env, "cwd": str(cwd), "output": str(output)}
        try:
            assert self.process.stdin is not None
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except (OSError, ValueError):
            return None
        with self._cond:
            self._cond.wait_for(lambda: run_id in self._pids or self._closed, timeout)
            return self._pids.pop(run_id, None)

    def abandon(self, run_id: str, timeout: float = ABANDON_WAIT_S) -> int | None:
        """Retire a server that did not answer the fork request for ``run_id`` in time.

        It takes no further requests (its stdin closes; the worker starts a new one), but
        the request it already read is still served: a slow answer (a server still warming
        up on a loaded machine) must not lead to a second process for the same run. Returns
        the pid of the child it forks for ``run_id``, or ``None`` once no child can come —
        the server exited, or was killed after ``timeout`` without answering. The server's
        folder is removed when it exits (after its children).
        """
        with contextlib.suppress(OSError, ValueError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        with self._cond:
            answered = self._cond.wait_for(lambda: run_id in self._pids or self._closed,
                                           timeout)
        if not answered:  # hung: kill it, then take any answer it wrote before dying
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            with self._cond:
                self._cond.wait_for(lambda: self._closed, 10)
        threading.Thread(target=self.close, kwargs={"timeout": None}, daemon=True,
                         name="stowflow-fork-server-retired").start()
        with self._cond:
            return self._pids.pop(run_id, None)

    def exit_code(self, run_id: str, pid: int) -> int | None:
        """Return the exit code of the child ``pid`` running ``run_id`` once it ended (once:
        the caller keeps it); a child of a server that died is reported as
        :data:`~stowflow.workers.lifeline.EXIT_WORKER_GONE` once it is gone too."""
        with self._cond:
            if run_id in self._codes:
                return self._codes.pop(run_id)
            closed = self._closed
        if closed and not _running(pid):
            return lifeline.EXIT_WORKER_GONE
        return None

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop the server: it waits for its children, then exits (killed after
        ``timeout`` seconds; ``None``: no limit); its folder is removed."""
        with contextlib.suppress(OSError, ValueError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)
