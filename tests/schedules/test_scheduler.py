"""The scheduler on SQLite and PostgreSQL: horizon, idempotency, catch-up, backfill, pauses."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from stowflow.db import FlowRunRecord, ScheduleRecord, ScheduleSkipRecord, session
from stowflow.deployments.records import upsert_deployment
from stowflow.runs import State, create_flow_run, set_state
from stowflow.schedules import (
    ScheduleSpec,
    backfill,
    delete_schedule,
    list_schedules,
    set_deployment_paused,
    set_schedule_active,
    skipped_counts,
    tick,
)

pytestmark = pytest.mark.usefixtures("stowflow_database")


def _runs(deployment_id: str) -> list[FlowRunRecord]:
    with session() as db:
        return list(db.scalars(select(FlowRunRecord).where(
            FlowRunRecord.deployment_id == deployment_id).order_by(FlowRunRecord.scheduled_at)))


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _times(deployment_id: str) -> list[datetime]:
    return [_utc(r.scheduled_at) for r in _runs(deployment_id)]


def _set_watermark(deployment_id: str, moment: datetime) -> None:
    with session() as db:
        db.execute(update(ScheduleRecord).where(ScheduleRecord.deployment_id == deployment_id)
                   .values(next_fire_at=moment))


def test_a_tick_creates_the_runs_within_the_horizon_once(scheduled):
    dep = scheduled({"interval": 600, "parameters": {"n": 2}}, parameters={"n": 1, "m": 1})
    # A minute after a 10-minute mark: the tick 30 s later must not find a mark newly inside
    # its horizon (with the real time, 1 run in 20 crossed one and failed).
    now = datetime.fromtimestamp(datetime.now(UTC).timestamp() // 600 * 600 + 60, UTC)
    report = tick(now=now, horizon=timedelta(hours=1))
    times = _times(dep.id)
    assert len(report.created) == len(times) in (6, 7)
    assert all(now <= t <= now + timedelta(hours=1) for t in times)
    assert all(t.timestamp() % 600 == 0 for t in times)
    run = _runs(dep.id)[0]
    assert run.parameters == {"n": 2, "m": 1}  # the schedule's override wins
    assert run.state == "SCHEDULED" and run.work_pool_name == "pool"
    assert run.schedule_id == list_schedules(dep.id)[0].id
    again = tick(now=now + timedelta(seconds=30), horizon=timedelta(hours=1))
    assert again.created == [] and _times(dep.id) == times
    later = tick(now=now + timedelta(minutes=20), horizon=timedelta(hours=1))
    assert len(later.created) == 2 and len(_times(dep.id)) == len(times) + 2


def test_the_database_refuses_a_duplicate_even_when_the_watermark_is_rewound(scheduled):
    dep = scheduled({"interval": 300})
    now = datetime.now(UTC)
    first = tick(now=now)
    _set_watermark(dep.id, now - timedelta(seconds=1))  # a scheduler with a stale view
    second = tick(now=now, catchup=0)
    assert first.created and second.created == []
    assert len(_times(dep.id)) == len(set(_times(dep.id))) == len(first.created)


def test_concurrent_ticks_never_duplicate(scheduled):
    deps = [scheduled({"interval": 60}, name=f"d{i}") for i in range(10)]
    now = datetime.now(UTC)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            tick(now=now)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for dep in deps:
        times = _times(dep.id)
        assert len(times) == len(set(times)) in (60, 61)


def test_catch_up_creates_the_most_recent_missed_run_and_records_the_rest(scheduled):
    dep = scheduled({"cron": "*/10 * * * *"})
    now = datetime(2030, 5, 1, 12, 5, tzinfo=UTC)
    _set_watermark(dep.id, datetime(2030, 5, 1, 9, 0, tzinfo=UTC))  # down since 09:00
    report = tick(now=now, horizon=timedelta(minutes=30))
    assert _times(dep.id) == [datetime(2030, 5, 1, 12, 0, tzinfo=UTC)] + [
        datetime(2030, 5, 1, 12, m, tzinfo=UTC) for m in (10, 20, 30)]
    assert report.skipped == 18  # 09:00 .. 11:50
    with session() as db:
        skip = db.scalars(select(ScheduleSkipRecord)).one()
    assert (_utc(skip.first_at), _utc(skip.last_at), skip.count) == (
        datetime(2030, 5, 1, 9, 0, tzinfo=UTC), datetime(2030, 5, 1, 11, 50, tzinfo=UTC), 18)
    assert skipped_counts([list_schedules(dep.id)[0].id]) == {list_schedules(dep.id)[0].id: 18}


def test_catch_up_limit_is_configurable(scheduled):
    dep = scheduled({"cron": "0 * * * *"})
    now = datetime(2030, 5, 1, 12, 30, tzinfo=UTC)
    _set_watermark(dep.id, datetime(2030, 5, 1, 6, 0, tzinfo=UTC))
    report = tick(now=now, horizon=timedelta(minutes=10), catchup=3)
    assert _times(dep.id) == [datetime(2030, 5, 1, h, tzinfo=UTC) for h in (10, 11, 12)]
    assert report.skipped == 4  # 06:00 .. 09:00
    dep2 = scheduled({"cron": "0 * * * *"}, name="none")
    _set_watermark(dep2.id, datetime(2030, 5, 1, 6, 0, tzinfo=UTC))
    assert tick(now=now, horizon=timedelta(minutes=10), catchup=0).skipped == 7
    assert _times(dep2.id) == []


def test_backfill_creates_past_runs_once(scheduled):
    dep = scheduled({"cron": "0 0 * * *"})
    start, end = datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 5, tzinfo=UTC)
    assert backfill(dep.id, start, end) == (5, 0)
    assert backfill(dep.id, start, end + timedelta(days=1)) == (1, 5)
    assert _times(dep.id) == [datetime(2030, 1, d, tzinfo=UTC) for d in range(1, 7)]


def test_paused_deployment_or_schedule_creates_nothing_and_loses_its_future_runs(scheduled):
    dep = scheduled({"interval": 600}, {"interval": 900})
    now = datetime.now(UTC)
    tick(now=now)
    first, second = list_schedules(dep.id)
    set_schedule_active(first.id, False)
    assert {r.schedule_id for r in _runs(dep.id)} == {second.id}
    set_deployment_paused(dep.id, True)
    assert _runs(dep.id) == []
    assert tick(now=now + timedelta(minutes=30)).created == []
    set_deployment_paused(dep.id, False)
    assert {r.schedule_id for r in _runs(dep.id)} == set()
    report = tick(now=datetime.now(UTC))
    assert report.created and {r.schedule_id for r in _runs(dep.id)} == {second.id}


def test_a_pause_also_removes_the_late_runs_its_schedules_created(scheduled):
    # Runs due before the pause that no worker took yet (LATE) would otherwise start as soon
    # as a worker comes back: a paused deployment or schedule starts nothing it scheduled.
    from stowflow.workers.claim import claim_runs
    from stowflow.workers.pools import create_pool

    create_pool("pool")
    dep = scheduled({"interval": 600}, {"interval": 900})
    first, second = list_schedules(dep.id)
    now = datetime.now(UTC)
    backfill(dep.id, now - timedelta(hours=1), now - timedelta(minutes=1))
    by_hand = create_flow_run(dep, scheduled_at=now - timedelta(minutes=5))
    set_schedule_active(first.id, False)
    assert first.id not in {r.schedule_id for r in _runs(dep.id)}
    assert second.id in {r.schedule_id for r in _runs(dep.id)}
    set_deployment_paused(dep.id, True)
    assert [r.id for r in _runs(dep.id)] == [by_hand.id]  # a run asked for by hand stays
    assert [r.id for r in claim_runs("w", 10, pool="pool")] == [by_hand.id]


def test_changing_a_schedule_removes_its_future_runs_but_not_started_or_past_ones(scheduled):
    dep = scheduled({"interval": 600})
    now = datetime.now(UTC)
    tick(now=now)
    past = create_flow_run(dep, scheduled_at=now - timedelta(hours=1))
    started = _runs(dep.id)[-1]
    set_state(started.id, State.PENDING)
    upsert_deployment(name="dep", flow_name="hello", entrypoint="flow.py:hello",
                      work_pool_name="pool", schedules=[ScheduleSpec(cron="0 3 * * *")])
    left = {r.id for r in _runs(dep.id)}
    assert left == {past.id, started.id}
    tick(now=now, horizon=timedelta(days=2))
    new = list_schedules(dep.id)[0]
    fresh = [r for r in _runs(dep.id) if r.schedule_id == new.id]
    assert len(fresh) == 2 and all(_utc(r.scheduled_at).hour == 3 for r in fresh)


def test_deleting_a_schedule_keeps_past_runs(scheduled):
    dep = scheduled({"interval": 600})
    backfill(dep.id, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 0, 30, tzinfo=UTC))
    schedule = list_schedules(dep.id)[0]
    delete_schedule(schedule.id)
    runs = _runs(dep.id)
    assert len(runs) == 4 and {r.schedule_id for r in runs} == {None}  # past: kept
    assert list_schedules(dep.id) == []


def test_a_redeploy_keeps_an_unchanged_schedule_and_recreates_its_runs_for_the_new_version(
        scheduled):
    dep = scheduled({"interval": 600})
    sid = list_schedules(dep.id)[0].id
    tick()
    assert {r.deployment_version for r in _runs(dep.id)} == {1}
    scheduled({"interval": 600})
    assert list_schedules(dep.id)[0].id == sid
    tick()
    assert {r.deployment_version for r in _runs(dep.id)} == {2}


def test_a_schedule_that_never_fires_again_is_left_alone(scheduled):
    dep = scheduled({"rrule": "FREQ=MINUTELY;INTERVAL=10;COUNT=3",
                     "anchor_date": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()})
    tick(horizon=timedelta(hours=2))
    assert len(_times(dep.id)) == 3
    assert list_schedules(dep.id)[0].next_fire_at is None
    assert tick(horizon=timedelta(hours=2)).schedules == 0


def test_many_deployments_sharing_a_cron_each_get_their_runs(scheduled):
    deps = [scheduled({"cron": "*/5 * * * *", "timezone": "Europe/Berlin"}, name=f"d{i}")
            for i in range(5)]
    report = tick(horizon=timedelta(minutes=30))
    assert report.schedules == 5
    with session() as db:
        total = db.scalar(select(func.count()).select_from(FlowRunRecord))
    assert total == len(report.created) == sum(len(_times(d.id)) for d in deps)
    assert len({tuple(_times(d.id)) for d in deps}) == 1


def test_max_active_runs_holds_back_the_schedules_next_run(scheduled):
    from stowflow.workers.claim import claim_runs
    from stowflow.workers.pools import create_pool

    create_pool("pool")
    dep = scheduled({"interval": 60, "max_active_runs": 1}, {"interval": 120})
    limited, other = list_schedules(dep.id)
    backfill(dep.id, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 0, 5, tzinfo=UTC))
    claimed = claim_runs("w1", 10, pool="pool")
    by_schedule = sorted(r.schedule_id for r in claimed)
    assert by_schedule.count(limited.id) == 1 and by_schedule.count(other.id) == 3
    assert claim_runs("w2", 10, pool="pool") == []  # the limited one is still busy
    busy = next(r for r in claimed if r.schedule_id == limited.id)
    set_state(busy.id, State.RUNNING)
    set_state(busy.id, State.COMPLETED)
    assert [r.schedule_id for r in claim_runs("w2", 10, pool="pool")] == [limited.id]


def test_deleting_a_deployment_deletes_its_runs_not_started_and_keeps_its_history(scheduled):
    # A run left SCHEDULED, due or not, by hand or by a schedule, would be claimed and fail:
    # its deployment is gone. What ran is history and stays.
    from stowflow.schedules import delete_deployment

    dep = scheduled({"interval": 600})
    backfill(dep.id, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 0, 10, tzinfo=UTC))
    ran = _runs(dep.id)[0]
    for state in (State.PENDING, State.RUNNING, State.COMPLETED):
        set_state(ran.id, state)
    create_flow_run(dep, scheduled_at=datetime.now(UTC) - timedelta(minutes=5))
    tick()
    assert any(_utc(r.scheduled_at) > datetime.now(UTC) for r in _runs(dep.id))
    delete_deployment(dep.id)
    with session() as db:
        left = list(db.scalars(select(FlowRunRecord)))
    assert [(r.id, r.deployment_id) for r in left] == [(ran.id, None)]
    with session() as db:
        assert db.scalar(select(func.count()).select_from(ScheduleRecord)) == 0


def _state_rows(deployment_id: str) -> list[tuple[str, str, datetime]]:
    from stowflow.db import FlowRunStateRecord

    with session() as db:
        return [(run_id, state, _utc(at)) for run_id, state, at in db.execute(
            select(FlowRunStateRecord.flow_run_id, FlowRunStateRecord.state,
                   FlowRunStateRecord.timestamp)
            .join(FlowRunRecord, FlowRunRecord.id == FlowRunStateRecord.flow_run_id)
            .where(FlowRunRecord.deployment_id == deployment_id))]


def test_scheduled_and_backfilled_runs_start_their_state_history(scheduled):
    # A run's first state is implied by its row: a tick writes no state row (failed on the
    # code that wrote one per run), and the history still starts SCHEDULED at creation.
    from stowflow.runs import read_states

    dep = scheduled({"interval": 600})
    now = datetime.now(UTC)
    report = tick(now=now, horizon=timedelta(hours=1))
    assert report.created and _state_rows(dep.id) == []
    for run in _runs(dep.id):
        (state,) = read_states(run.id)
        assert (state.state, _utc(state.timestamp)) == ("SCHEDULED", _utc(run.created))
    created, _ = backfill(dep.id, datetime(2030, 1, 1, tzinfo=UTC),
                          datetime(2030, 1, 1, 0, 30, tzinfo=UTC))
    assert created == 4 and _state_rows(dep.id) == []
    backfilled = _runs(dep.id)[-1]
    assert [s.state for s in read_states(backfilled.id)] == ["SCHEDULED"]
    # Once it changes, the stored history follows the implied first state.
    set_state(report.created[0], State.PENDING)
    assert [s.state for s in read_states(report.created[0])] == ["SCHEDULED", "PENDING"]
    assert [r[1] for r in _state_rows(dep.id)] == ["PENDING"]


def test_scheduled_runs_take_their_columns_from_their_deployment(scheduled):
    a = scheduled({"cron": "*/30 * * * *"}, name="a", parameters={"x": 1},
                  work_queue_name="fast")
    b = scheduled({"cron": "*/30 * * * *", "parameters": {"y": {"deep": [1]}}}, name="b",
                  parameters={"x": 2, "y": 0})
    tick(horizon=timedelta(minutes=30))
    run_a, run_b = _runs(a.id)[0], _runs(b.id)[0]
    assert (run_a.parameters, run_b.parameters) == ({"x": 1}, {"x": 2, "y": {"deep": [1]}})
    assert run_a.name == f"a-{run_a.id[:8]}" and run_a.flow_name == "hello"
    assert (run_a.work_pool_name, run_a.work_queue_name) == ("pool", "fast")
    assert run_a.deployment_version == a.version_number and not run_a.cancel_requested
    assert len(_times(a.id)) == len(_times(b.id)) in (1, 2)


@pytest.mark.parametrize("timezone", ["Europe/Berlin", "America/New_York"])
def test_ticking_through_dst_changes_gives_the_expansions_own_times(scheduled, timezone):
    # Steady-state ticks continue the expansion they left off (the _ITERATORS cache);
    # the times must be exactly those of one fresh expansion over the whole range.
    from stowflow.schedules import fire_times

    crons = ("*/20 * * * *", "30 1,2 * * *")
    deps = [scheduled({"cron": c, "timezone": timezone}, name=f"c{i}")
            for i, c in enumerate(crons)]
    days = {"Europe/Berlin": (3, 30, 10, 26), "America/New_York": (3, 9, 11, 2)}[timezone]
    windows = []
    for month, day in (days[:2], days[2:]):
        start = datetime(2025, month, day, 0, 0, tzinfo=UTC)
        _set_watermark(deps[0].id, start)
        _set_watermark(deps[1].id, start)
        now = start
        while now < start + timedelta(hours=8):
            tick(now=now, horizon=timedelta(minutes=25), catchup=0)
            last_end = now + timedelta(minutes=25)
            now += timedelta(minutes=20)
        windows.append((start, last_end))
    for dep, cron in zip(deps, crons, strict=True):
        spec = ScheduleSpec(cron=cron, timezone=timezone)
        expected = [t for start, end in windows for t in fire_times(spec, start, end)]
        assert _times(dep.id) == expected and len(expected) > 2


@pytest.mark.parametrize("stowflow_database", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)  # HOT updates are PostgreSQL's: no SQLite case to skip
def test_moving_watermarks_writes_no_index_entry_on_postgresql(stowflow_database, scheduled):
    # Fails before migration 0006: ix_deployment_schedules_due held next_fire_at, so each
    # moved watermark was a new row version with an entry in every index (no HOT update).
    from sqlalchemy import text
    from stowflow.schedules._bulk import move_watermarks

    ids = [list_schedules(scheduled({"interval": 600}, name=f"d{i}").id)[0].id
           for i in range(20)]
    with session() as db:
        connection = db.connection()
        assert connection.dialect.name == "postgresql"
        move_watermarks(connection, {datetime(2031, 1, 1, tzinfo=UTC): ids}, datetime.now(UTC))
        updated, hot = connection.execute(text(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
            "WHERE relname = 'deployment_schedules'")).one()
    assert (updated, hot) == (20, 20)
    assert {s.next_fire_at.replace(tzinfo=UTC) if s.next_fire_at.tzinfo is None
            else s.next_fire_at for i in ids for s in [_schedule(i)]} == {
        datetime(2031, 1, 1, tzinfo=UTC)}


def _schedule(schedule_id: str) -> ScheduleRecord:
    with session() as db:
        record = db.get(ScheduleRecord, schedule_id)
        assert record is not None
        return record
