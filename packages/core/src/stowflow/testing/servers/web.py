"""stowflow's own server (``stowflow server start``) in a subprocess, for tests and benchmarks.

``start_stowflow_server(home)`` starts it on a free 127.0.0.1 port with ``STOWFLOW_HOME`` =
``home`` (and optionally a token or a database URL) and waits until ``/api/health``
answers; ``.stop()`` ends it. Its log (uvicorn's and stowflow's) is in ``log_path``.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from stowflow.testing.servers._process import ServerProcess, free_port


@dataclass
class StowflowServer:
    """A running ``stowflow server start``."""

    url: str
    home: Path
    token: str | None
    process: ServerProcess

    def log(self) -> str:
        """Return everything the server has printed so far."""
        return self.process.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server."""
        self.process.stop()


def start_stowflow_server(home: Path, *, token: str | None = None, host: str = "127.0.0.1",
                          env: dict[str, str] | None = None,
                          timeout: float = 60.0) -> StowflowServer:
    """Start ``stowflow server start`` on a free port over ``home``; wait for its health check."""
    port = free_port()
    full_env = {"STOWFLOW_HOME": str(home), **(env or {})}
    if token:
        full_env["STOWFLOW_SERVER_TOKEN"] = token
    process = ServerProcess(
        [sys.executable, "-m", "stowflow", "server", "start", "--host", host,
         "--port", str(port)], port=port, env=full_env,
        log_path=home.parent / f"{home.name}-server.log")
    process.start(timeout=timeout)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=5) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            process.stop()
            raise RuntimeError(f"stowflow server did not become healthy:\n{process.log_tail()}")
        time.sleep(0.05)
    return StowflowServer(url=url, home=home, token=token, process=process)


__all__ = ["StowflowServer", "start_stowflow_server"]
