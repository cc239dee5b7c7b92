"""Fixtures: a deployment with schedules, recorded through the real registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from stowflow.db import DeploymentRecord
from stowflow.deployments.records import upsert_deployment
from stowflow.runs import find_deployment
from stowflow.schedules import ScheduleSpec


@pytest.fixture
def scheduled() -> Callable[..., DeploymentRecord]:
    """Return ``make(*schedules, name=..., **fields)``: a deployment on pool 'pool' with
    those schedules (dicts or ScheduleSpec)."""

    def make(*schedules: Any, name: str = "dep", **fields: Any) -> DeploymentRecord:
        fields.setdefault("entrypoint", "flow.py:hello")
        fields.setdefault("work_pool_name", "pool")
        specs = [s if isinstance(s, ScheduleSpec) else ScheduleSpec.model_validate(s)
                 for s in schedules]
        return find_deployment(upsert_deployment(name=name, flow_name="hello",
                                                 schedules=specs, **fields))

    return make
