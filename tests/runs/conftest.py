"""Fixtures: deployments recorded through the real registry (``upsert_deployment``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from stowflow.db import DeploymentRecord
from stowflow.deployments.records import upsert_deployment
from stowflow.runs import find_deployment


@pytest.fixture
def make_deployment() -> Callable[..., DeploymentRecord]:
    """Return a function that records a deployment (defaults: 'hello/dep' on pool 'pool')."""

    def make(name: str = "dep", flow_name: str = "hello", **fields: Any) -> DeploymentRecord:
        fields.setdefault("entrypoint", "flow.py:hello")
        fields.setdefault("work_pool_name", "pool")
        return find_deployment(upsert_deployment(name=name, flow_name=flow_name, **fields))

    return make
