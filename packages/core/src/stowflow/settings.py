"""Effective settings, read from ``STOWFLOW_*`` environment variables.

:func:`get_settings` follows the environment as it is now, so a test or a worker that
changes it sees the change at once; it parses again only when a ``STOWFLOW_*`` variable or
``HOME`` (which ``~`` in ``home`` means) changed, since parsing cost milliseconds and is
done several times per database session.

Every field is a plain value (a path, a string, a number, a secret), so the environment is
read by :meth:`Settings.from_environment` — the rules pydantic-settings applied (names
case-insensitive, values validated by the model, defaults validated too) without importing
it and python-dotenv (~20 ms of every command that opens the database).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

#: Every field ``x`` is read from the environment variable ``STOWFLOW_X`` (any case).
ENV_PREFIX = "STOWFLOW_"


class Settings(BaseModel):
    """stowflow's settings; each field is read from ``STOWFLOW_<FIELD>``."""

    model_config = ConfigDict(extra="ignore", validate_default=True)

    home: Path = Field(
        default=Path("~/.stowflow"),
        description="Folder for the SQLite database, the secret key file and the caches.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database; SQLite in `home` when unset.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key that encrypts block secrets; a 0600 key file in `home` when unset.",
    )
    plugins: str | None = Field(
        default=None,
        description="Comma-separated allow-list of plugin names to load; all when unset.",
    )
    disable_plugins: str | None = Field(
        default=None,
        description="Comma-separated deny-list of plugin names never to load.",
    )
    logging_level: str = Field(default="INFO", description="Level of stowflow's own logs.")
    git_timeout: float = Field(
        default=600.0,
        description="Seconds one git command (a fetch, a checkout) may take before it is stopped.",
    )

    api_url: str | None = Field(
        default=None,
        description="URL of a stowflow server (http://host:4300); when set, 'deployment run', "
        "'flow-run ls/logs' and 'block ls' use its API instead of the database.",
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="Token for the server at `api_url` (its --auth-token).",
    )

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Return the settings ``environ`` (default ``os.environ``) gives: field ``x`` from
        ``STOWFLOW_X`` in any case, the default when unset; a value that does not validate
        raises pydantic's ValidationError naming the field."""
        environ = os.environ if environ is None else environ
        size = len(ENV_PREFIX)
        values = {key[size:].lower(): value for key, value in environ.items()
                  if key[:size].upper() == ENV_PREFIX}
        return cls.model_validate({name: value for name, value in values.items()
                                   if name in cls.model_fields})

    def ensure_home(self) -> Path:
        """Create ``home`` if needed and return it; a ConfigError says why it cannot be used.

        Called before anything is written there (the SQLite database, the secret key file).
        """
        from stowflow.errors import ConfigError

        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            why = "it is a file, not a folder" if self.home.is_file() else (exc.strerror or str(exc))
            raise ConfigError(
                f"cannot use STOWFLOW_HOME {str(self.home)!r}: {why}",
                hint="point STOWFLOW_HOME at a folder you can write to (it is created if missing)",
            ) from exc
        if not os.access(self.home, os.W_OK | os.X_OK):
            raise ConfigError(
                f"cannot use STOWFLOW_HOME {str(self.home)!r}: the folder is not writable",
                hint="point STOWFLOW_HOME at a folder you can write to, or fix its permissions",
            )
        return self.home

    @property
    def cache_dir(self) -> Path:
        """Folder of the node-local caches (content store, git mirrors, pip layers)."""
        return self.home / "cache"

    @property
    def effective_database_url(self) -> str:
        """The database URL in use: ``database_url`` or the SQLite file in ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'stowflow.db'}"


_cached: tuple[tuple[tuple[str, str], ...], Settings] | None = None


def _environment_key() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((key, value) for key, value in os.environ.items()
                        if key == "HOME" or key[:len(ENV_PREFIX)].upper() == ENV_PREFIX))


def get_settings() -> Settings:
    """Return the settings as the environment says now (a copy: changing it changes
    nothing else)."""
    global _cached
    key = _environment_key()
    cached = _cached
    if cached is None or cached[0] != key:
        cached = _cached = (key, Settings.from_environment())
    return cached[1].model_copy()


def names(value: str | None) -> set[str]:
    """Split a comma-separated settings value into a set of stripped, non-empty names."""
    if not value:
        return set()
    return {part.strip() for part in value.split(",") if part.strip()}
