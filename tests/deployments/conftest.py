"""Shared fixtures for deployment tests: a flow project folder and a work pool."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FLOW = '''
from stowflow import flow
import some_heavy_dependency_that_is_not_installed  # deploy must not import this file

@flow(name="etl-flow", version="1.2")
def etl(name: str = "World", count: int = 1, when: "datetime | None" = None):
    """Extract, transform, load."""
    return name * count
'''

STEPS = '''
import json
from pathlib import Path

LOG = Path(__file__).parent / "calls.jsonl"

def record(**kwargs):
    with LOG.open("a") as f:
        f.write(json.dumps(kwargs) + "\\n")
    return {"bucket": kwargs.get("bucket", "b"), "folder": "f", "cwd": str(Path.cwd())}
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with a flow whose import would fail, and a recording step module."""
    root = tmp_path / "proj"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text(FLOW)
    (root / "sf_test_steps.py").write_text(STEPS)
    (root / "data.txt").write_text("x" * 100)
    (root / ".venv").mkdir()
    (root / ".venv" / "ignored.py").write_text("x")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(sys.modules, "sf_test_steps", raising=False)  # another test's copy
    monkeypatch.chdir(tmp_path)
    return root


@pytest.fixture
def pool() -> str:
    """Create work pool 'pool-a' and return its name."""
    from stowflow.db import WorkPoolRecord, session

    with session() as db:
        db.add(WorkPoolRecord(name="pool-a"))
    return "pool-a"
