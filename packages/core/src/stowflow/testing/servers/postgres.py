"""Real-server fixture: PostgreSQL 15 on 127.0.0.1 (Debian's server binaries).

``postgres_server`` (session) initialises a cluster in a temporary folder as the
``postgres`` OS user (PostgreSQL refuses to run as root), starts it on a free port with
trust authentication and durability switched off for speed, and stops it at the end.
``postgres_url`` (per test) creates a fresh database and yields its SQLAlchemy URL
(``postgresql+psycopg://postgres@127.0.0.1:PORT/<random>``); it is dropped afterwards.
``stowflow_database`` runs a test twice — on the test's SQLite file and on a fresh
PostgreSQL database — by pointing ``STOWFLOW_DATABASE_URL`` at it; it yields the URL.
The server binaries are found in ``STOWFLOW_TEST_PG_BIN``, else the newest
``/usr/lib/postgresql/<major>/bin``, else next to ``initdb`` on ``PATH``. Without them the
fixture fails (CI must not silently skip the PostgreSQL half); set
``STOWFLOW_TEST_ALLOW_NO_POSTGRES=1`` to skip instead on a machine without PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stowflow.testing.servers._process import ServerProcess, free_port

PG_USER = "postgres"


def find_pg_bin() -> Path | None:
    """Return the folder holding ``postgres`` and ``initdb``, or ``None``."""
    explicit = os.environ.get("STOWFLOW_TEST_PG_BIN")
    if explicit:
        return Path(explicit)
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                      else 0)
    if versions:
        return versions[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresServer:
    """A running PostgreSQL server: where it listens and how to reach it."""

    port: int
    process: ServerProcess
    data_dir: Path

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return "127.0.0.1"

    def url(self, database: str = "postgres") -> str:
        """Return the SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://{PG_USER}@{self.host}:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run one statement on the ``postgres`` database outside a transaction."""
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=PG_USER, dbname="postgres",
                             autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    runner = shutil.which("runuser")
    return [runner, "-u", PG_USER, "--", *argv] if runner else ["su", PG_USER, "-c",
                                                                  " ".join(argv)]


def start_postgres() -> PostgresServer:
    """Initialise and start a throwaway PostgreSQL server; the caller stops it."""
    pg_bin = find_pg_bin()
    if pg_bin is None or not (pg_bin / "postgres").exists():
        message = "PostgreSQL server binaries not found (apt-get install postgresql)"
        if os.environ.get("STOWFLOW_TEST_ALLOW_NO_POSTGRES") == "1":
            pytest.skip(message)
        raise RuntimeError(message + "; set STOWFLOW_TEST_ALLOW_NO_POSTGRES=1 to skip")
    base = Path(tempfile.mkdtemp(prefix="stowflow-pg-"))
    data_dir, socket_dir = base / "data", base / "run"
    socket_dir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, PG_USER)
        shutil.chown(socket_dir, PG_USER)
    init = subprocess.run(
        _as_postgres([str(pg_bin / "initdb"), "-D", str(data_dir), "-U", PG_USER,
                      "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]),
        capture_output=True, text=True, timeout=120, check=False)
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr or init.stdout}")
    port = free_port()
    argv = _as_postgres([
        str(pg_bin / "postgres"), "-D", str(data_dir), "-h", "127.0.0.1", "-p", str(port),
        "-k", str(socket_dir), "-c", "fsync=off", "-c", "synchronous_commit=off",
        "-c", "full_page_writes=off", "-c", "max_connections=300",
        "-c", "shared_buffers=32MB",
    ])
    process = ServerProcess(argv=argv, port=port).start(timeout=60)
    server = PostgresServer(port=port, process=process, data_dir=base)
    _wait_until_accepting(server)
    return server


def _wait_until_accepting(server: PostgresServer, timeout: float = 60.0) -> None:
    """The port opens before recovery ends ("the database system is starting up")."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            server.admin("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                stop_postgres(server)
                raise RuntimeError(f"PostgreSQL did not accept connections: {exc}\n"
                                   f"{server.process.log_tail()}") from exc
            time.sleep(0.1)


def pause_postgres(server: PostgresServer) -> None:
    """Stop the server with a fast shutdown, keeping its data (see :func:`resume_postgres`):
    what a ``pg_ctl restart -m fast`` does to the clients, for as long as the test likes."""
    proc = server.process.process
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)


def resume_postgres(server: PostgresServer) -> None:
    """Start a paused server again on the same port and data; wait until it accepts."""
    server.process.start(timeout=60)
    _wait_until_accepting(server)


def stop_postgres(server: PostgresServer) -> None:
    """Stop the server with a fast shutdown and delete its files."""
    proc = server.process.process
    if proc is not None and proc.poll() is None:
        # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to leave.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
    server.process.stop()
    shutil.rmtree(server.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1 for the whole test session."""
    server = start_postgres()
    try:
        yield server
    finally:
        stop_postgres(server)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on ``postgres_server``; yields its SQLAlchemy URL."""
    name = f"sf_{uuid.uuid4().hex[:12]}"
    postgres_server.admin(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.url(name)
    finally:
        from stowflow.db import dispose_engines

        dispose_engines()
        with contextlib.suppress(Exception):
            postgres_server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stowflow_database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test on SQLite and on PostgreSQL; return the database URL in use."""
    if request.param == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
        monkeypatch.setenv("STOWFLOW_DATABASE_URL", url)
        return url
    from stowflow.settings import get_settings

    return get_settings().effective_database_url
