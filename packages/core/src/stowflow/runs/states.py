"""Flow-run states and the transitions allowed between them.

A run moves SCHEDULED → PENDING (claimed by a worker) → RUNNING (its subprocess started)
→ one final state. The table below is the whole state machine; every state change goes
through :func:`stowflow.runs.api.set_state`, which applies it as one compare-and-set
``UPDATE``, so two writers racing (a run finishing while a reaper marks it crashed) cannot
both win.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """The state of a flow run."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    CANCELLED = "CANCELLED"


FINAL_STATES: frozenset[State] = frozenset(
    {State.COMPLETED, State.FAILED, State.CRASHED, State.CANCELLED}
)

#: Which states a run may enter from each state. PENDING → SCHEDULED hands a claimed run
#: back when a worker stops before starting it; final states have no way out.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.SCHEDULED: frozenset({State.PENDING, State.CANCELLED}),
    State.PENDING: frozenset(
        {State.SCHEDULED, State.RUNNING, State.FAILED, State.CRASHED, State.CANCELLED}
    ),
    State.RUNNING: frozenset({State.COMPLETED, State.FAILED, State.CRASHED, State.CANCELLED}),
    **{final: frozenset() for final in FINAL_STATES},
}


def sources_of(target: State) -> frozenset[State]:
    """Return every state from which a run may move to ``target``."""
    return frozenset(src for src, targets in TRANSITIONS.items() if target in targets)


def is_final(state: str) -> bool:
    """Return whether ``state`` is a final state (no transition leaves it)."""
    return state in FINAL_STATES
