"""The pytest plugin every stowflow test suite loads (``pytest_plugins = ["stowflow.testing.fixtures"]``).

It isolates each test: a fresh ``STOWFLOW_HOME`` (so a fresh SQLite database, secret key
and caches), a rebuilt plugin manager, and closed database engines afterwards. It also
loads the session-scoped real-server fixtures of :mod:`stowflow.testing.servers`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stowflow.db import dispose_engines
from stowflow.plugins import reset_plugin_manager

pytest_plugins = [
    "stowflow.testing.servers.s3",
    "stowflow.testing.servers.azurite",
    "stowflow.testing.servers.gcs",
    "stowflow.testing.servers.git_http",
    "stowflow.testing.servers.postgres",
    "stowflow.testing.servers.docker",
    "stowflow.testing.faults",
]


@pytest.fixture(autouse=True)
def stowflow_home(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Give the test its own ``STOWFLOW_HOME`` and a clean plugin manager; yield the home."""
    home = tmp_path_factory.mktemp("stowflow-home")
    monkeypatch.setenv("STOWFLOW_HOME", str(home))
    for var in ("STOWFLOW_DATABASE_URL", "STOWFLOW_SECRET_KEY", "STOWFLOW_PLUGINS",
                "STOWFLOW_DISABLE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    reset_plugin_manager()
    yield home
    dispose_engines()
    reset_plugin_manager()
