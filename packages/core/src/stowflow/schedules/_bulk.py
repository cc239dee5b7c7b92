"""Writing scheduled runs in bulk: one statement for every run of a tick, whatever the count.

The scheduler creates up to thousands of runs per tick. Row by row through SQLAlchemy's
parameter processing (17 columns, JSON, datetimes) that is most of a tick's time, so the
rows travel as one JSON array — ``[run id, schedule id, scheduled time, parameters or
null]`` each — and the database joins them to their schedule and deployment for the other
columns (``INSERT ... SELECT FROM json_each`` / ``json_array_elements``). The unique key
(deployment, schedule, scheduled time) with ``ON CONFLICT DO NOTHING`` keeps one run per
time however many schedulers insert it. The watermarks move the same way: the schedule
ids of each new watermark as one JSON array (:func:`move_watermarks`), not one bound
parameter each (1,000 of those cost SQLAlchemy's compiler and psycopg's query parser ~25 ms
of CPU per tick, more than the UPDATE itself).

A run's first state (SCHEDULED, at its creation) is not written to ``flow_run_states``:
the run row implies it (``runs.read_states``). That spares a tick 1,000 rows and, on
PostgreSQL, their foreign-key checks (~25 ms of server time per tick).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, bindparam, text

from stowflow.db import new_ids
from stowflow.runs.states import State

#: One run to create: (schedule id, scheduled time (UTC), parameters or ``None``: the
#: deployment's own). :func:`insert_runs` gives each its id.
RunRow = tuple[str, datetime, dict[str, Any] | None]

_COLUMNS = ("id, name, deployment_id, deployment_version, flow_name, work_pool_name, "
            "work_queue_name, state, parameters, scheduled_at, schedule_id, cancel_requested, "
            "created, updated")

_SQLITE_RUNS = f"""
INSERT INTO flow_runs ({_COLUMNS})
SELECT json_extract(j.value, '$[0]'),
       d.name || '-' || substr(json_extract(j.value, '$[0]'), 1, 8),
       d.id, d.version_number, d.flow_name, d.work_pool_name, d.work_queue_name,
       '{State.SCHEDULED.value}',
       coalesce(json_extract(j.value, '$[3]'), d.parameters, '{{}}'),
       json_extract(j.value, '$[2]'), s.id, 0, :now, :now
FROM json_each(:rows) AS j
JOIN deployment_schedules AS s ON s.id = json_extract(j.value, '$[1]')
JOIN deployments AS d ON d.id = s.deployment_id
WHERE true
ON CONFLICT (deployment_id, schedule_id, scheduled_at) DO NOTHING
RETURNING id
"""

_POSTGRES_RUNS = f"""
INSERT INTO flow_runs ({_COLUMNS})
SELECT r.v ->> 0, d.name || '-' || substr(r.v ->> 0, 1, 8),
       d.id, d.version_number, d.flow_name, d.work_pool_name, d.work_queue_name,
       '{State.SCHEDULED.value}',
       CASE WHEN json_typeof(r.v -> 3) = 'object' THEN r.v -> 3
            ELSE coalesce(d.parameters, '{{}}'::json) END,
       (r.v ->> 2)::timestamptz, s.id, false, :now, :now
FROM json_array_elements(CAST(:rows AS json)) AS r(v)
JOIN deployment_schedules AS s ON s.id = r.v ->> 1
JOIN deployments AS d ON d.id = s.deployment_id
ON CONFLICT (deployment_id, schedule_id, scheduled_at) DO NOTHING
RETURNING id
"""


def insert_runs(connection: Connection, rows: list[RunRow], now: datetime) -> list[str]:
    """Create the SCHEDULED runs ``rows`` describe (created at ``now``, each with a new
    id) inside the caller's transaction; a run whose (deployment, schedule, time) exists
    is left out. Returns the ids of the runs created.

    A row whose schedule no longer exists creates nothing (the join drops it).
    """
    if not rows:
        return []
    stamp = _time_renderer(connection)
    rendered: dict[datetime, str] = {}  # few distinct times per tick: render each once
    payload = []
    for run_id, (schedule_id, moment, parameters) in zip(new_ids(len(rows)), rows,
                                                     strict=True):
        at = rendered.get(moment)
        if at is None:
            at = rendered[moment] = stamp(moment)
        payload.append([run_id, schedule_id, at, parameters])
    statement = text(_POSTGRES_RUNS if connection.dialect.name == "postgresql"
                     else _SQLITE_RUNS).bindparams(
        bindparam("now", now, type_=DateTime(timezone=True)))
    rows_json = json.dumps(payload, separators=(",", ":"))
    return list(connection.execute(statement, {"rows": rows_json}).scalars().all())


_SQLITE_MARKS = """
UPDATE deployment_schedules SET next_fire_at = :at, updated = :now
WHERE id IN (SELECT j.value FROM json_each(:ids) AS j)
"""

_POSTGRES_MARKS = """
UPDATE deployment_schedules SET next_fire_at = :at, updated = :now
WHERE id IN (SELECT json_array_elements_text(CAST(:ids AS json)))
"""


def move_watermarks(connection: Connection, marks: dict[datetime | None, list[str]],
                    now: datetime) -> None:
    """Set ``next_fire_at`` of the schedules ``marks`` lists under each new watermark
    (``None``: the schedule has ended), inside the caller's transaction: one UPDATE per
    distinct watermark (one in steady state), its ids travelling as one JSON array."""
    sql = _POSTGRES_MARKS if connection.dialect.name == "postgresql" else _SQLITE_MARKS
    stamp = DateTime(timezone=True)
    for at, ids in marks.items():
        statement = text(sql).bindparams(bindparam("at", at, type_=stamp),
                                         bindparam("now", now, type_=stamp))
        connection.execute(statement, {"ids": json.dumps(ids)})


def _time_renderer(connection: Connection) -> Any:
    """How a UTC datetime is written inside the JSON rows so the database stores exactly
    what SQLAlchemy would: SQLite compares the text, so it must be SQLAlchemy's own format."""
    if connection.dialect.name == "postgresql":
        return lambda moment: moment.isoformat()
    process = DateTime(timezone=True).dialect_impl(connection.dialect).bind_processor(
        connection.dialect)
    return lambda moment: process(moment) if process else moment.isoformat()
