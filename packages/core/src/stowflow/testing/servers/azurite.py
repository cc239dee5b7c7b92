"""Real-server fixture: Azurite, Microsoft's Azure Storage emulator (blob service only).

Azurite comes from npm. The first session that needs it installs it once into
``cache_dir() / "azurite"`` under a file lock, so parallel sessions neither race nor
install twice; later sessions reuse it. CI can pre-install it the same way with::

    python -m stowflow.testing.servers.azurite

Azurite checks shared-key signatures, so a connection string with a wrong ``AccountKey`` is
refused just as Azure would refuse it.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stowflow.testing.servers._process import ServerProcess, cache_dir, free_port

#: The npm package spec: a pinned major version (npm picks the newest 3.x this node runs).
AZURITE_PACKAGE = "azurite@3"
#: Azurite's built-in development account and its well-known (public) key.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_INSTALL_TIMEOUT = 600.0


def azurite_dir() -> Path:
    """Return the folder Azurite is installed into (``cache_dir() / "azurite"``)."""
    return cache_dir() / "azurite"


def _blob_binary(prefix: Path) -> Path:
    return prefix / "node_modules" / ".bin" / "azurite-blob"


def _installed(prefix: Path) -> bool:
    # npm writes package-lock.json when an install completes; a binary without it may be
    # the remains of an interrupted install.
    return _blob_binary(prefix).exists() and (prefix / "package-lock.json").exists()


def install_azurite(prefix: Path | None = None) -> Path:
    """Install Azurite with npm into ``prefix`` (default :func:`azurite_dir`) unless present.

    Called by the :func:`azurite_server` fixture on first use, and by CI to pre-install.
    Holds an exclusive file lock while checking and installing, so concurrent test
    sessions wait for one install. Returns the path of the ``azurite-blob`` executable.
    """
    prefix = prefix or azurite_dir()
    prefix.mkdir(parents=True, exist_ok=True)
    with open(prefix.parent / f"{prefix.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _installed(prefix):
                npm = shutil.which("npm")
                if npm is None:
                    raise RuntimeError(
                        "the azurite_server fixture needs npm (Node.js) to install Azurite; "
                        "install Node.js 18 or newer"
                    )
                result = subprocess.run(
                    [npm, "install", "--prefix", str(prefix), AZURITE_PACKAGE,
                     "--no-audit", "--no-fund", "--loglevel=error"],
                    capture_output=True, text=True, timeout=_INSTALL_TIMEOUT, check=False,
                )
                if result.returncode != 0 or not _installed(prefix):
                    raise RuntimeError(
                        f"npm install {AZURITE_PACKAGE} failed (exit {result.returncode}):\n"
                        f"{result.stderr[-3000:]}"
                    )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return _blob_binary(prefix)


@dataclass(frozen=True)
class AzuriteServer:
    """A running Azurite blob service and the development account it serves."""

    port: int
    host: str = "127.0.0.1"
    account_name: str = ACCOUNT_NAME
    account_key: str = ACCOUNT_KEY

    @property
    def blob_endpoint(self) -> str:
        """The account's blob endpoint, ``http://127.0.0.1:PORT/devstoreaccount1``."""
        return f"http://{self.host}:{self.port}/{self.account_name}"

    @property
    def connection_string(self) -> str:
        """A connection string for the development account on this server."""
        return self.connection_string_with_key(self.account_key)

    def connection_string_with_key(self, account_key: str) -> str:
        """Return this server's connection string with another ``AccountKey`` (for auth tests)."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account_name};"
            f"AccountKey={account_key};BlobEndpoint={self.blob_endpoint};"
        )

    def create_container(self, name: str | None = None) -> str:
        """Create a container (a fresh unique name when ``name`` is omitted); return its name."""
        from azure.storage.blob import BlobServiceClient

        name = name or f"test-{uuid.uuid4().hex[:20]}"
        with BlobServiceClient.from_connection_string(self.connection_string) as client:
            client.create_container(name)
        return name


def start_azurite() -> ServerProcess:
    """Install Azurite if needed and start its blob service on a free 127.0.0.1 port.

    For the :func:`azurite_server` fixture and for benchmarks; the caller stops the
    returned process. Data is kept in memory, so every server starts empty.
    """
    binary = install_azurite()
    port = free_port()
    return ServerProcess(
        argv=[str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port),
              "--skipApiVersionCheck", "--disableTelemetry", "--inMemoryPersistence",
              "--loose"],
        port=port,
        cwd=Path(tempfile.gettempdir()),
    ).start(timeout=60)


@pytest.fixture(scope="session")
def azurite_server() -> Iterator[AzuriteServer]:
    """Run Azurite's blob service on a free 127.0.0.1 port for the whole test session.

    Installs Azurite on first use (see :func:`install_azurite`); data is kept in memory,
    so each session starts empty. Tests create their own containers with
    :meth:`AzuriteServer.create_container`.
    """
    process = start_azurite()
    try:
        yield AzuriteServer(port=process.port)
    finally:
        process.stop()
        process.log_path.unlink(missing_ok=True)


if __name__ == "__main__":  # CI: pre-install Azurite exactly as the fixture would
    print(install_azurite())
