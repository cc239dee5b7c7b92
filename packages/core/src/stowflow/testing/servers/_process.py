"""Starting, waiting for and stopping the real servers tests talk to.

Every server binds a free port on 127.0.0.1, is waited for until it accepts connections
(a client library would otherwise retry for a long time), and is stopped with its whole
process group at the end of the test session. Its output goes to a log file whose tail is
shown if it fails to start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60.0, host: str = "127.0.0.1",
                  process: subprocess.Popen[bytes] | None = None) -> None:
    """Block until ``host:port`` accepts a TCP connection; raise after ``timeout`` seconds.

    Fails at once if ``process`` exits before the port opens.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server process exited with code {process.returncode} before "
                               f"listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout:.0f}s")


@dataclass
class ServerProcess:
    """A server started in its own process group, with its output in a log file.

    It is ready when ``port`` accepts connections, or, for a server without a TCP port
    (``port=0``), when ``ready()`` returns true.
    """

    argv: Sequence[str]
    port: int
    env: dict[str, str] | None = None
    cwd: Path | None = None
    log_path: Path = field(default_factory=lambda: Path(tempfile.mkstemp(suffix=".log")[1]))
    process: subprocess.Popen[bytes] | None = None
    ready: Callable[[], bool] | None = None

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start the server and wait for its port; raise with the log's tail on failure."""
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            list(self.argv), stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd,
            env={**os.environ, **(self.env or {})}, start_new_session=True,
        )
        try:
            if self.ready is not None:
                self._wait_ready(timeout)
            else:
                wait_for_port(self.port, timeout, process=self.process)
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"{self.argv[0]} did not start: {exc}\n{self.log_tail()}") from exc
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None and self.ready is not None
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"server process exited with code {self.process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready within {timeout:.0f}s")
            time.sleep(0.2)

    def log_tail(self, lines: int = 30) -> str:
        """Return the last ``lines`` lines the server printed."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server and every process it started."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def cache_dir() -> Path:
    """Return the folder where test tooling (npm packages, binaries) is cached between runs.

    ``STOWFLOW_TEST_CACHE`` overrides it; the default lives in the user's cache folder so a
    fresh clone reuses what an earlier run installed.
    """
    path = Path(os.environ.get("STOWFLOW_TEST_CACHE", Path.home() / ".cache" / "stowflow-test"))
    path.mkdir(parents=True, exist_ok=True)
    return path
