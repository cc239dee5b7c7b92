"""The flow-run state machine: allowed moves, final states, compare-and-set updates."""

from __future__ import annotations

import pytest
from stowflow.runs import (
    FINAL_STATES,
    InvalidTransitionError,
    State,
    create_flow_run,
    get_flow_run,
    set_state,
)
from stowflow.runs.states import TRANSITIONS, sources_of


def test_final_states_have_no_way_out():
    for state in FINAL_STATES:
        assert TRANSITIONS[state] == frozenset()


def test_every_state_reachable_from_scheduled():
    seen, frontier = {State.SCHEDULED}, [State.SCHEDULED]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(State)


def test_sources_of_completed_is_only_running():
    assert sources_of(State.COMPLETED) == {State.RUNNING}


def test_happy_path_sets_timestamps(stowflow_database, make_deployment):
    run = create_flow_run(make_deployment())
    assert run.state == "SCHEDULED"
    set_state(run.id, State.PENDING)
    running = set_state(run.id, State.RUNNING)
    assert running.started_at is not None and running.ended_at is None
    done = set_state(run.id, State.COMPLETED, code_version="abc123")
    assert done.state == "COMPLETED" and done.ended_at is not None
    assert get_flow_run(run.id).code_version == "abc123"


def test_completed_cannot_follow_crashed(stowflow_database, make_deployment):
    run = create_flow_run(make_deployment())
    set_state(run.id, State.PENDING)
    set_state(run.id, State.RUNNING)
    set_state(run.id, State.CRASHED, message="worker died")
    with pytest.raises(InvalidTransitionError, match="is CRASHED; it cannot become COMPLETED"):
        set_state(run.id, State.COMPLETED)
    assert get_flow_run(run.id).state == "CRASHED"


def test_scheduled_cannot_jump_to_running(stowflow_database, make_deployment):
    run = create_flow_run(make_deployment())
    with pytest.raises(InvalidTransitionError):
        set_state(run.id, State.RUNNING)


def test_only_the_owning_worker_may_move_a_run(stowflow_database, make_deployment):
    from stowflow.workers.claim import claim_runs

    run = create_flow_run(make_deployment())
    assert [r.id for r in claim_runs("w1", 1, pool="pool")] == []  # pool does not exist yet
    from stowflow.workers.pools import create_pool

    create_pool("pool")
    assert [r.id for r in claim_runs("w1", 1, pool="pool")] == [run.id]
    with pytest.raises(InvalidTransitionError, match="held by w1"):
        set_state(run.id, State.RUNNING, worker_name="w2")
    assert set_state(run.id, State.RUNNING, worker_name="w1").state == "RUNNING"
