"""upsert_deployment: create, redeploy (same id, new version snapshot), validation."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from stowflow.db import DeploymentRecord, DeploymentVersionRecord, session
from stowflow.deployments.records import upsert_deployment
from stowflow.errors import DeploymentError

PULL = [{"stowflow.deployments.steps.git_clone": {
    "repository": "https://example.test/r.git",
    "credentials": "{{ stowflow.blocks.secret.token }}",
}}]


def test_create_then_redeploy_bumps_version_and_keeps_id() -> None:
    first = upsert_deployment(name="d", flow_name="f", entrypoint="a.py:f", work_pool_name="p",
                              pull_steps=PULL, parameters={"x": 1}, tags=["t"])
    second = upsert_deployment(name="d", flow_name="f", entrypoint="b.py:f", work_pool_name="p",
                               pull_steps=PULL)
    assert first == second
    with session() as db:
        record = db.get(DeploymentRecord, first)
        assert record.version_number == 2 and record.entrypoint == "b.py:f"
        assert record.pull_steps == PULL  # stored unresolved, placeholders intact
        versions = db.scalars(select(DeploymentVersionRecord).where(
            DeploymentVersionRecord.deployment_id == first).order_by(
            DeploymentVersionRecord.version_number)).all()
        assert [v.version_number for v in versions] == [1, 2]
        assert versions[0].snapshot["entrypoint"] == "a.py:f"
        assert versions[0].snapshot["parameters"] == {"x": 1}
        assert versions[1].snapshot["entrypoint"] == "b.py:f"


def test_same_name_other_flow_is_another_deployment() -> None:
    a = upsert_deployment(name="d", flow_name="f1", entrypoint="a.py:f")
    b = upsert_deployment(name="d", flow_name="f2", entrypoint="a.py:f")
    assert a != b


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "invalid deployment name"),
        ({"name": "a/b"}, "invalid deployment name"),
        ({"flow_name": ""}, "invalid flow name"),
        ({"concurrency_limit": 0}, "concurrency_limit must be at least 1"),
    ],
)
def test_invalid_values(kwargs, message) -> None:
    values = {"name": "d", "flow_name": "f", "entrypoint": "a.py:f", **kwargs}
    with pytest.raises(DeploymentError, match=message):
        upsert_deployment(**values)
