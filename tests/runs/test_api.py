"""Creating, finding, listing and cancelling runs; logs and phase events round-trip."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from stowflow.errors import FlowError, NotFoundError, RunError
from stowflow.redact import register_secret
from stowflow.runs import (
    State,
    create_flow_run,
    find_deployment,
    get_flow_run,
    list_flow_runs,
    phase,
    read_events,
    read_logs,
    read_states,
    request_cancel,
    set_state,
    write_logs,
)

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
    "required": ["name"],
    "additionalProperties": False,
}


def test_find_deployment_by_id_full_name_and_unique_name(stowflow_database, make_deployment):
    dep = make_deployment("etl", "flow-a")
    make_deployment("shared", "flow-a")
    make_deployment("shared", "flow-b")
    assert find_deployment(dep.id).id == dep.id
    assert find_deployment("flow-a/etl").id == dep.id
    assert find_deployment("etl").id == dep.id
    with pytest.raises(NotFoundError, match="ambiguous: flow-a/shared, flow-b/shared"):
        find_deployment("shared")
    with pytest.raises(NotFoundError, match="no deployment 'nope'"):
        find_deployment("nope")


def test_run_parameters_merge_defaults_and_are_validated(stowflow_database, make_deployment):
    dep = make_deployment(parameters={"name": "World"}, parameter_schema=SCHEMA)
    run = create_flow_run(dep, {"n": 3})
    assert run.parameters == {"name": "World", "n": 3}
    assert run.work_pool_name == "pool" and run.flow_name == "hello"
    with pytest.raises(FlowError, match="n: 'x' is not of type 'integer'"):
        create_flow_run(dep, {"n": "x"})
    with pytest.raises(FlowError, match="Additional properties"):
        create_flow_run("hello/dep", {"bogus": 1})


def test_schema_not_enforced_accepts_anything(stowflow_database, make_deployment):
    dep = make_deployment(parameter_schema=SCHEMA, enforce_parameter_schema=False)
    assert create_flow_run(dep, {"n": "x"}).parameters == {"n": "x"}


def test_get_by_prefix_and_list_filters(stowflow_database, make_deployment):
    dep = make_deployment()
    first, second = create_flow_run(dep), create_flow_run(dep)
    assert get_flow_run(first.id[:8]).id == first.id
    set_state(second.id, State.CANCELLED)
    assert [r.id for r in list_flow_runs(state="cancelled")] == [second.id]
    assert {r.id for r in list_flow_runs(deployment_id=dep.id)} == {first.id, second.id}
    with pytest.raises(NotFoundError):
        get_flow_run("0000000000")


def test_cancel_scheduled_is_immediate_and_running_is_flagged(stowflow_database, make_deployment):
    dep = make_deployment()
    waiting, running = create_flow_run(dep), create_flow_run(dep)
    assert request_cancel(waiting.id).state == "CANCELLED"
    set_state(running.id, State.PENDING)
    set_state(running.id, State.RUNNING)
    flagged = request_cancel(running.id)
    assert flagged.state == "RUNNING" and flagged.cancel_requested
    with pytest.raises(RunError, match="already finished"):
        request_cancel(waiting.id)


def test_logs_are_redacted_and_read_incrementally(stowflow_database, make_deployment):
    run = create_flow_run(make_deployment())
    register_secret("hunter2-very-secret")
    write_logs(run.id, [("INFO", "token is hunter2-very-secret"), ("ERROR", "boom")])
    lines = read_logs(run.id)
    assert [(x.level, x.message) for x in lines] == [("INFO", "token is ***"), ("ERROR", "boom")]
    write_logs(run.id, [("INFO", "later")])
    assert [x.message for x in read_logs(run.id, after_id=lines[-1].id)] == ["later"]


def test_phase_records_duration_and_failure(stowflow_database, make_deployment):
    run = create_flow_run(make_deployment())
    with phase(run.id, "transfer") as p:
        p.details["files"] = 3
    with pytest.raises(ValueError), phase(run.id, "import"):
        raise ValueError("no module")
    events = read_events(run.id)
    assert [(e.phase, e.status) for e in events] == [("transfer", "ok"), ("import", "failed")]
    assert events[0].details == {"files": 3} and events[0].duration_s >= 0
    assert "ValueError: no module" in events[1].details["error"]


def test_a_run_keeps_the_deployment_version_it_was_created_for(stowflow_database,
                                                               make_deployment):
    from stowflow.runs import deployment_for_run

    make_deployment(entrypoint="old.py:hello")
    run = create_flow_run("hello/dep")
    make_deployment(entrypoint="new.py:hello")  # redeployed before a worker took the run
    assert run.deployment_version == 1
    assert deployment_for_run(run)["entrypoint"] == "old.py:hello"
    assert deployment_for_run(create_flow_run("hello/dep"))["entrypoint"] == "new.py:hello"


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite: naive UTC


def test_a_runs_first_state_is_implied_by_the_run_and_never_repeated(stowflow_database,
                                                                     make_deployment):
    # Fails on the code that stored the first state: the table held a SCHEDULED row.
    from sqlalchemy import func, insert, select
    from stowflow.db import FlowRunStateRecord, session

    def stored() -> list[str]:
        with session() as db:
            return list(db.scalars(select(FlowRunStateRecord.state)
                                   .where(FlowRunStateRecord.flow_run_id == run.id)))

    make_deployment()
    run = create_flow_run("hello/dep")
    (first,) = read_states(run.id)
    assert (first.state, _utc(first.timestamp), first.message) == (
        "SCHEDULED", _utc(run.created), None)
    assert stored() == []
    set_state(run.id, State.PENDING)
    set_state(run.id, State.SCHEDULED, message="handed back")
    history = read_states(run.id)
    assert [(s.state, s.message) for s in history] == [
        ("SCHEDULED", None), ("PENDING", None), ("SCHEDULED", "handed back")]
    assert _utc(history[0].timestamp) == _utc(run.created) and stored() == ["PENDING", "SCHEDULED"]
    assert read_states("no-such-run") == []
    # A run written before: its first state stored as a row, which is not shown twice.
    older = create_flow_run("hello/dep")
    with session() as db:
        db.execute(insert(FlowRunStateRecord).values(
            flow_run_id=older.id, state="SCHEDULED", timestamp=older.created))
        assert db.scalar(select(func.count()).select_from(FlowRunStateRecord)
                         .where(FlowRunStateRecord.flow_run_id == older.id)) == 1
    assert [s.state for s in read_states(older.id)] == ["SCHEDULED"]
    assert read_states(older.id)[0].id is not None  # the stored row itself
