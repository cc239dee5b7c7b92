"""The scheduler: create runs ahead of time, exactly once, however many schedulers run.

One :func:`tick` is one transaction. It reads the active schedules of unpaused deployments
whose watermark (``next_fire_at``, the earliest time no run exists for yet) falls within
the horizon, locking them ``FOR NO KEY UPDATE SKIP LOCKED`` on PostgreSQL (so concurrent
schedulers split the work instead of repeating it; SQLite's ``BEGIN IMMEDIATE`` serialises
them), inserts one SCHEDULED run per time with ``ON CONFLICT DO NOTHING`` on the unique key
(deployment, schedule, scheduled time) — the database is what guarantees no duplicate — and
moves each watermark past what it created.

Catch-up: a time already past when a tick first sees it was missed (no scheduler ran in the
horizon before it). The most recent ``catchup`` missed times get runs; the older ones are
recorded as skipped (one :class:`~stowflow.db.ScheduleSkipRecord` per tick and schedule).
:func:`backfill` creates past runs on request.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Text, cast, select

from stowflow.db import (
    DeploymentRecord,
    ScheduleRecord,
    ScheduleSkipRecord,
    new_id,
    session,
    utcnow,
)
from stowflow.errors import StowflowError
from stowflow.schedules._bulk import RunRow, insert_runs, move_watermarks
from stowflow.schedules.expand import fire_times, iter_times, previous_times
from stowflow.schedules.model import ScheduleSpec
from stowflow.schedules.store import list_schedules, spec_of

log = logging.getLogger(__name__)

DEFAULT_HORIZON = timedelta(hours=1)
DEFAULT_MAX_RUNS = 100
DEFAULT_CATCHUP = 1
#: Skipped times are counted one by one up to this many; beyond, the count is unknown.
_COUNT_CAP = 10_000


@dataclass
class TickReport:
    """What one tick did."""

    schedules: int = 0
    created: list[str] = field(default_factory=list)
    skipped: int = 0


@dataclass
class _Plan:
    create: list[datetime]
    next_fire_at: datetime | None
    skipped: tuple[datetime, datetime, int | None] | None = None
    #: The expansion, positioned just after ``next_fire_at`` (see _ITERATORS).
    rest: Iterator[datetime] | None = None


def plan_schedule(spec: ScheduleSpec, start: datetime, now: datetime, end: datetime,
                  *, max_runs: int, catchup: int) -> _Plan:
    """Decide what a tick does for one schedule whose watermark is ``start``.

    Returns the times to create (missed ones kept by ``catchup``, then those in
    ``[now, end]``, at most ``max_runs`` of those), the new watermark and the skipped range.
    """
    create: list[datetime] = []
    skipped = None
    future_start = start
    if start < now:
        kept = [t for t in previous_times(spec, now, catchup) if t >= start][::-1]
        boundary = kept[0] if kept else now
        before = previous_times(spec, boundary, 1)
        if before and before[0] >= start:
            counted = fire_times(spec, start, before[0], limit=_COUNT_CAP + 1)
            skipped = (start, before[0], len(counted) if len(counted) <= _COUNT_CAP else None)
        create += kept
        future_start = now
    plan = _take(iter_times(spec, future_start), end, max_runs)
    plan.create[:0], plan.skipped = create, skipped
    return plan


def _take(times: Iterator[datetime], end: datetime, max_runs: int) -> _Plan:
    """The plan that creates the ``times`` up to ``end`` (at most ``max_runs``)."""
    create: list[datetime] = []
    for taken, moment in enumerate(times):
        if moment > end or taken >= max_runs:
            return _Plan(create, moment, None, times)
        create.append(moment)
    return _Plan(create, None)


#: Expansions left positioned after the watermark they set, by (schedule timing, watermark):
#: the next tick for any schedule with that timing and watermark continues from there
#: instead of building a croniter / rrule again (the cost that dominates when schedules
#: are spread over many timezones). An expansion is deterministic, so continuing one is
#: the same as starting afresh; ``pop`` hands each to one tick (thread-safe in CPython).
_ITERATORS: dict[tuple[Any, ...], Iterator[datetime]] = {}
_ITERATORS_MAX = 20_000


def _insert_ignore(connection: Connection, table: Any, rows: list[dict[str, Any]],
                   keys: list[str]) -> None:
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    connection.execute(insert(table).on_conflict_do_nothing(index_elements=keys), rows)


def _overrides(schedule_parameters: Any, deployment_parameters: Any) -> dict[str, Any] | None:
    """The parameters of a schedule's runs when the schedule overrides some (the
    deployment's overlaid with the schedule's); ``None``: the deployment's own, which the
    insert reads itself. The arguments are the columns as stored (JSON text)."""
    if schedule_parameters in (None, "", "{}", "null"):
        return None
    own = json.loads(schedule_parameters) if isinstance(schedule_parameters, str) \
        else schedule_parameters
    if not own:
        return None
    base = json.loads(deployment_parameters) if isinstance(deployment_parameters, str) \
        else deployment_parameters
    return {**(base or {}), **own}


def tick(*, now: datetime | None = None, horizon: timedelta = DEFAULT_HORIZON,
         max_runs: int = DEFAULT_MAX_RUNS, catchup: int = DEFAULT_CATCHUP) -> TickReport:
    """Create the runs due within ``horizon`` of ``now`` for every active schedule; one
    transaction. Returns what was created and skipped (see the module docstring)."""
    now = now or utcnow()
    end = now + horizon
    report = TickReport()
    S, D = ScheduleRecord, DeploymentRecord
    # Only what planning needs: the runs' other columns are joined in by the insert, and
    # the parameters stay JSON text unless a schedule overrides some (see _overrides).
    query = (select(S.id, S.cron, S.interval_s, S.rrule, S.timezone, S.anchor_date,
                    S.next_fire_at, cast(S.parameters, Text).label("parameters_json"),
                    cast(D.parameters, Text).label("dep_parameters_json"))
             .join(D, D.id == S.deployment_id)
             .where(S.active.is_(True), D.paused.is_(False), S.next_fire_at.is_not(None),
                    S.next_fire_at <= end)
             .order_by(S.next_fire_at, S.id)
             .with_for_update(skip_locked=True, key_share=True, of=S))
    with session() as db:
        connection = db.connection()
        # (next_fire_at is never NULL here: the query excludes it)
        rows: Sequence[Any] = connection.execute(query).all()
        report.schedules = len(rows)
        plans: dict[tuple[Any, ...], _Plan] = {}
        starts: dict[datetime, datetime] = {}  # watermark as read -> timezone-aware
        run_rows: list[RunRow] = []
        skip_rows: list[dict[str, Any]] = []
        marks: dict[datetime | None, list[str]] = {}  # new watermark -> schedules
        for row in rows:
            # Unpacked, not read by attribute: this loop runs once per due schedule.
            schedule_id, cron, interval_s, rrule, timezone, anchor, read_at, own, base = row
            start = starts.get(read_at)
            if start is None:  # SQLite returns naive UTC
                start = starts[read_at] = read_at if read_at.tzinfo else \
                    read_at.replace(tzinfo=now.tzinfo)
            # Many deployments share a schedule ("0 * * * *"): expand it once per tick.
            # (A cron does not depend on its anchor.)
            key = (cron, interval_s, rrule, timezone, None if cron else anchor, start)
            plan = plans.get(key)
            if plan is None:
                resume = _ITERATORS.pop(key, None)
                try:
                    if resume is not None and start >= now:  # steady state: no spec needed
                        plan = _take(chain([start], resume), end, max_runs)
                    else:
                        plan = plan_schedule(spec_of(row), start, now, end,
                                             max_runs=max_runs, catchup=catchup)
                except Exception as exc:  # one broken schedule must not stop the others
                    log.error("schedule %s cannot be expanded: %s", schedule_id, exc)
                    continue
                plans[key] = plan
                if plan.rest is not None:
                    if len(_ITERATORS) >= _ITERATORS_MAX:
                        _ITERATORS.clear()
                    _ITERATORS[(*key[:-1], plan.next_fire_at)] = plan.rest
            parameters = _overrides(own, base)
            for moment in plan.create:
                run_rows.append((schedule_id, moment, parameters))
            if plan.skipped:
                first, last, count = plan.skipped
                skip_rows.append({"id": new_id(), "schedule_id": schedule_id,
                                  "first_at": first, "last_at": last, "count": count,
                                  "created": now})
                report.skipped += count or 0
            mark = marks.get(plan.next_fire_at)
            if mark is None:
                marks[plan.next_fire_at] = [schedule_id]
            else:
                mark.append(schedule_id)
        report.created = insert_runs(connection, run_rows, now)
        _insert_ignore(connection, ScheduleSkipRecord.__table__, skip_rows,
                       ["schedule_id", "first_at"])
        # Schedules due together mostly move to the same next time: one UPDATE per value.
        move_watermarks(connection, marks, now)
    return report


def backfill(deployment_id: str, start: datetime, end: datetime, *,
             limit: int = 10_000, force: bool = False) -> tuple[int, int]:
    """Create the runs the deployment's active schedules had in ``[start, end]``.

    Runs that already exist (the unique key) are left alone. Returns ``(created, existing)``.
    Raises StowflowError when the range holds more than ``limit`` times, and
    DeploymentPausedError for a paused deployment unless ``force`` (the rule of
    ``deployment run``).
    """
    from stowflow.runs import find_deployment, refuse_if_paused

    dep = find_deployment(deployment_id)
    refuse_if_paused(dep, force=force, how_to_force="pass --force (force=True)")
    schedules = [s for s in list_schedules(dep.id) if s.active]
    if not schedules:
        raise StowflowError(f"deployment {dep.flow_name}/{dep.name} has no active schedule",
                            hint="add one with 'stowflow deployment schedule add'")
    if end < start:
        raise StowflowError("--to is before --from")
    rows: list[RunRow] = []
    for schedule in schedules:
        times = fire_times(spec_of(schedule), start, end, limit=limit + 1)
        if len(rows) + len(times) > limit:
            raise StowflowError(f"the range holds more than {limit} scheduled times",
                                hint="backfill a shorter range at a time")
        parameters = _overrides(schedule.parameters, dep.parameters)
        rows += [(schedule.id, moment, parameters) for moment in times]
    with session() as db:
        created = insert_runs(db.connection(), rows, utcnow())
    return len(created), len(rows) - len(created)


class Scheduler:
    """Ticks every ``interval`` seconds until stopped; alone or in a worker's thread."""

    def __init__(self, *, interval: float = 5.0, horizon: timedelta = DEFAULT_HORIZON,
                 max_runs: int = DEFAULT_MAX_RUNS, catchup: int = DEFAULT_CATCHUP) -> None:
        if interval <= 0 or max_runs < 1 or catchup < 0 or horizon <= timedelta(0):
            raise ValueError("interval and horizon must be positive, max_runs at least 1, "
                             "catchup at least 0")
        self.interval, self.horizon = interval, horizon
        self.max_runs, self.catchup = max_runs, catchup
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0

    def tick(self) -> TickReport:
        """Run one tick with this scheduler's settings."""
        report = tick(horizon=self.horizon, max_runs=self.max_runs, catchup=self.catchup)
        self.ticks += 1
        if report.created or report.skipped:
            log.info("scheduler: created %d run(s), skipped %d missed time(s)",
                     len(report.created), report.skipped)
        return report

    def run(self, *, once: bool = False) -> None:
        """Tick until :meth:`stop` (or once). A database error is logged and retried."""
        from sqlalchemy.exc import SQLAlchemyError

        while not self._stop.is_set():
            try:
                self.tick()
            except (StowflowError, SQLAlchemyError) as exc:
                if once:
                    raise
                log.error("scheduler: tick failed, retrying: %s", str(exc).splitlines()[0])
            if once:
                return
            self._stop.wait(self.interval)

    def start_thread(self) -> threading.Thread:
        """Tick in a daemon thread (inside ``worker start``); :meth:`stop` ends it."""
        self._thread = threading.Thread(target=self.run, name="stowflow-scheduler",
                                        daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop ticking; wait for the thread (if any) to finish its tick."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
