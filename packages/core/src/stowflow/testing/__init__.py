"""Test support that every stowflow package reuses.

- :mod:`stowflow.testing.fixtures`: the pytest plugin (isolated ``STOWFLOW_HOME`` per test).
- :mod:`stowflow.testing.servers`: real servers on 127.0.0.1 (S3, Azure, GCS, git, PostgreSQL).
- :mod:`stowflow.testing.conformance`: the suite every ``ObjectStore`` subclasses.
- :mod:`stowflow.testing.plugins`: the suite every provider package's ``test_plugin.py`` subclasses.
- :mod:`stowflow.testing.packages`: tiny wheels and a PEP 503 index on 127.0.0.1 for install tests.
- :func:`assert_no_secret`: the check that a secret value appears nowhere in captured output.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def assert_no_secret(secret: str, *captured: str | bytes | Path | Iterable[str]) -> None:
    """Fail if ``secret`` occurs in any captured text, bytes, file (or tree of files).

    Pass log text, exception strings, returned values (``repr``-ed), argv lists and paths;
    a directory is searched file by file, so ``.git/`` and workspaces can be passed whole.
    """
    needle = secret.encode()
    for item in captured:
        if isinstance(item, Path):
            paths = [item] if item.is_file() else [p for p in item.rglob("*") if p.is_file()]
            for path in paths:
                assert needle not in path.read_bytes(), f"secret found in file {path}"
        elif isinstance(item, bytes):
            assert needle not in item, "secret found in captured bytes"
        elif isinstance(item, str):
            assert secret not in item, "secret found in captured text"
        else:
            for line in item:
                assert secret not in str(line), f"secret found in {line!r}"
