"""DeploymentSpec: the one list of deployment fields; the record and snapshot follow from it."""

from __future__ import annotations

from dataclasses import fields

import pytest
from sqlalchemy import select
from stowflow.db import DeploymentRecord, DeploymentVersionRecord, session
from stowflow.deployments.records import SNAPSHOT_FIELDS, DeploymentSpec, upsert_deployment
from stowflow.errors import DeploymentError


def test_every_spec_field_is_a_column_and_in_the_snapshot() -> None:
    names = [f.name for f in fields(DeploymentSpec)]
    assert list(SNAPSHOT_FIELDS) == [n for n in names if n != "schedules"]
    columns = set(DeploymentRecord.__table__.columns.keys())
    assert set(SNAPSHOT_FIELDS) <= columns


def test_a_spec_and_keywords_write_the_same_deployment() -> None:
    spec = DeploymentSpec(name="a", flow_name="f", entrypoint="f.py:f", tags=["x"],
                          parameters={"n": 1})
    first = upsert_deployment(spec)
    again = upsert_deployment(name="a", flow_name="f", entrypoint="f.py:f", tags=["x"],
                              parameters={"n": 1})
    assert first == again
    with session() as db:
        snaps = [v.snapshot for v in db.scalars(
            select(DeploymentVersionRecord).where(DeploymentVersionRecord.deployment_id == first)
            .order_by(DeploymentVersionRecord.version_number))]
        record = db.get(DeploymentRecord, first)
        assert record is not None and record.job_variables == {} and record.pull_steps == []
    assert [s.pop("version_number") for s in snaps] == [1, 2]
    assert snaps[0] == snaps[1]
    assert set(snaps[0]) == set(SNAPSHOT_FIELDS)
    spec.tags.append("changed later")  # the stored value is a copy
    with session() as db:
        assert db.get(DeploymentRecord, first).tags == ["x"]  # type: ignore[union-attr]


def test_bad_specs_are_refused() -> None:
    with pytest.raises(DeploymentError, match="invalid deployment name"):
        upsert_deployment(DeploymentSpec(name="a/b", flow_name="f", entrypoint="f.py:f"))
    with pytest.raises(DeploymentError, match="concurrency_limit must be at least 1"):
        upsert_deployment(DeploymentSpec(name="a", flow_name="f", entrypoint="f.py:f",
                                         concurrency_limit=0))
    with pytest.raises(TypeError, match="not both"):
        upsert_deployment(DeploymentSpec(name="a", flow_name="f", entrypoint="f.py:f"), tags=[])
