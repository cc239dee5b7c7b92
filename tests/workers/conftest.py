"""Fixtures for the worker tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from stowflow.db import DeploymentRecord, session


@pytest.fixture
def make_deployment() -> Callable[..., DeploymentRecord]:
    """Return a function that records a deployment (defaults: 'hello/dep' on pool 'pool')."""

    def make(name: str = "dep", flow_name: str = "hello", **fields: Any) -> DeploymentRecord:
        fields.setdefault("entrypoint", "flow.py:hello")
        fields.setdefault("work_pool_name", "pool")
        record = DeploymentRecord(name=name, flow_name=flow_name, **fields)
        with session() as db:
            db.add(record)
        return record

    return make
