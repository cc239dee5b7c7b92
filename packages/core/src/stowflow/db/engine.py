"""Database engines and sessions: SQLite in ``STOWFLOW_HOME`` by default, PostgreSQL by URL.

The schema is migrated to the newest Alembic revision the first time a URL is used in a
process (under a file lock on SQLite, an advisory lock on PostgreSQL), so every command
and every worker finds the tables it needs without a separate setup step.

SQLite runs in WAL mode with a busy timeout, and every transaction begins ``IMMEDIATE``:
writers queue for the lock up front instead of failing to upgrade a read lock midway, which
is what makes claiming a run a single atomic step on SQLite.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Engine, create_engine, event, make_url

from stowflow.errors import ConfigError, StowflowError
from stowflow.redact import register_secret
from stowflow.settings import get_settings

if TYPE_CHECKING:  # the ORM is imported by the first session(): see session()
    from sqlalchemy.orm import Session, sessionmaker

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_makers: dict[Engine, sessionmaker[Session]] = {}
_MIGRATIONS = Path(__file__).parent / "migrations"

#: The newest migration's revision. A database already at it skips Alembic entirely (loading
#: Alembic costs most of a CLI command's start-up); a test keeps this equal to the real head.
HEAD_REVISION = "0006_schedule_watermarks_hot"


_URL_HINT = ("STOWFLOW_DATABASE_URL must look like postgresql+psycopg://user:password@host/db, "
             "with special characters in the password percent-encoded (@ as %40, / as %2F), "
             "and needs 'pip install stowflow[postgres]'")


def parse_database_url(url: str) -> URL:
    """Return ``url`` parsed; a ConfigError (never quoting the URL, which may hold a password)
    when it cannot be parsed."""
    try:
        return make_url(url)
    except Exception as exc:  # ArgumentError, or ValueError for a port that is not a number
        raise ConfigError("STOWFLOW_DATABASE_URL is not a valid database URL",
                          hint=_URL_HINT) from exc


def safe_url(url: str) -> str:
    """Return ``url`` with its password masked (for messages and ``stowflow config``)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparsable: show nothing of it, the password may be anywhere in it
        return "(unparsable URL, not shown)"


def _at_head(engine: Engine) -> bool:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:  # no table yet, or no database: let Alembic do the work
        return False
    return [row[0] for row in found] == [HEAD_REVISION]


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Under WAL, NORMAL keeps the database consistent through any crash (the WAL is
        # fsynced at checkpoints, not at each commit); what it trades is the last commits
        # before a power loss or OS crash, which may roll back. An application crash
        # loses nothing (the commit is in the OS's cache).
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A page cache of up to 64 MiB (SQLite's default is 2 MiB; allocated as used): a tick
        # over 1,000 schedules dirties ~7 MB of index pages, more than the default holds,
        # so SQLite spilled dirty pages to the WAL mid-transaction and read pages back
        # (the runs INSERT 37 -> 22 ms, benchmarks/schedules).
        cursor.execute("PRAGMA cache_size=-65536")
        # Checkpoint every ~40 MB of WAL, not SQLite's default 4 MB: one scheduler tick over
        # 1,000 schedules writes ~7 MB (each run dirties a page of every index on a random
        # key), so the default copied and fsynced the database after every tick; batched,
        # pages that several ticks dirty are written back once (mean tick 180 -> 100 ms,
        # benchmarks/schedules). The WAL file may reach that size between checkpoints.
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _migrate(engine: Engine, url: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT pg_advisory_lock(724104)")
            try:
                command.upgrade(config, "head")
            finally:
                connection.exec_driver_sql("SELECT pg_advisory_unlock(724104)")
                connection.commit()
        else:
            command.upgrade(config, "head")


def get_engine(url: str | None = None) -> Engine:
    """Return the (cached, migrated) engine for ``url`` or the configured database."""
    settings = get_settings()
    url = url or settings.effective_database_url
    with _lock:
        engine = _engines.get(url)
        if engine is not None:
            return engine
        if url.startswith("sqlite"):
            settings.ensure_home()
            engine = create_engine(url, connect_args={"timeout": 60})
            _configure_sqlite(engine)
        else:
            parsed = parse_database_url(url)
            register_secret(parsed.password)
            try:
                engine = create_engine(parsed, pool_pre_ping=True)
            except Exception as exc:  # unknown dialect or missing driver
                raise ConfigError(
                    f"cannot use database URL {safe_url(url)}: {exc}",
                    hint=_URL_HINT,
                ) from exc
        if _at_head(engine):
            pass
        elif url.startswith("sqlite"):
            from filelock import FileLock
            from sqlalchemy.exc import SQLAlchemyError

            try:
                with FileLock(str(settings.home / ".migrate.lock")):
                    _migrate(engine, url)
            except SQLAlchemyError as exc:
                engine.dispose()
                raise ConfigError(
                    f"cannot open the SQLite database {safe_url(url)}: {getattr(exc, 'orig', exc)}",
                    hint="check that its folder exists and is writable; if the file is damaged or "
                    "not a stowflow database, move it aside (a new "
                    "one is created; keep the old one to recover from) or set "
                    "STOWFLOW_DATABASE_URL to another database",
                ) from exc
        else:
            try:
                _migrate(engine, url)
            except Exception as exc:
                engine.dispose()
                raise _database_unusable(url, exc) from exc
        _engines[url] = engine
        return engine


def _database_unusable(url: str, exc: Exception) -> ConfigError:
    """The one error for a database that cannot be reached or brought to the current
    schema: the URL without its password, the driver's first line (psycopg adds a second
    "Is the server running...?" line and SQLAlchemy a link to its docs), what to check."""
    from sqlalchemy.exc import OperationalError

    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = reason[0] if reason else type(exc).__name__
    if isinstance(exc, OperationalError):  # no connection: refused, unknown host, bad login
        return ConfigError(f"cannot reach the database at {safe_url(url)}: {first}",
                           hint="check that the server runs and accepts connections there, "
                           "and the user, password and database name in STOWFLOW_DATABASE_URL")
    return ConfigError(f"cannot migrate the database at {safe_url(url)}: {first}",
                       hint="the user in STOWFLOW_DATABASE_URL needs to create and alter "
                       "tables there; 'stowflow' must not be older than the database's schema")


def dispose_engines() -> None:
    """Close every cached engine (tests and forked workers call this)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _makers.clear()


def preload_driver(url: str | None = None) -> None:
    """Import the dialect and driver of ``url`` (or the configured database) without
    connecting; a process that forks workers of the database calls it so they do not
    each import the driver again. Any error is left for :func:`get_engine` to report."""
    url = url or get_settings().effective_database_url
    with contextlib.suppress(Exception):  # the run that uses it reports it properly
        create_engine(url if url.startswith("sqlite") else parse_database_url(url)).dispose()


def _forget_engines_in_child() -> None:
    # A forked process (a run from the worker's fork server) must never use its parent's
    # pooled connections: drop them without closing them (SQLAlchemy's dispose(close=False)).
    global _lock
    _lock = threading.Lock()
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()
    _makers.clear()


os.register_at_fork(after_in_child=_forget_engines_in_child)


@contextmanager
def session() -> Iterator[Session]:
    """Yield a session in one transaction: committed on success, rolled back on error.

    The ORM (``sqlalchemy.orm``, ~0.1 s to import) is imported here, by the first session
    of the process, not with this module: ``get_engine()`` and the migration check are
    SQLAlchemy Core, and ``stowflow server start`` answers ``/api/health`` without it.
    """
    from sqlalchemy.exc import DataError
    from sqlalchemy.orm import sessionmaker

    engine = get_engine()
    maker = _makers.get(engine)
    if maker is None:  # building a sessionmaker builds a class: once per engine, not per call
        maker = _makers[engine] = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        with maker() as db, db.begin():
            yield db
    except DataError as exc:
        # PostgreSQL checks lengths and types that SQLite does not; the driver's first line
        # says which (the statement and its parameters are left out: they may be long).
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise StowflowError(f"the database refused a value: {reason}",
                            hint="names, versions and similar fields are limited to 200 characters") from exc
