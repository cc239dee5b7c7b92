"""Schedule expansion: the libraries' own answers, with stowflow's DST rules on top.

Property tests run cron and interval expansion across the DST changes of several zones and
compare with croniter / dateutil iterated directly; the explicit cases pin down what
happens at the repeated and the skipped hour (see ``stowflow.schedules.expand``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from dateutil.rrule import SECONDLY, rrule
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stowflow.schedules import ScheduleSpec, fire_times, previous_times

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo",
         "Asia/Kolkata", "UTC"]
#: Days around the DST changes of those zones (both directions), plus ordinary days.
DST_DAYS = [datetime(2026, 3, 8), datetime(2026, 3, 29), datetime(2026, 10, 25),
            datetime(2026, 11, 1), datetime(2026, 4, 5), datetime(2026, 10, 4),
            datetime(2026, 6, 15)]

minute = st.sampled_from(["0", "30", "*/15", "5,45", "*/10"])
hour = st.sampled_from(["*", "1", "2", "0-3", "*/2", "9"])
crons = st.builds(lambda m, h: f"{m} {h} * * *", minute, hour)


def library_cron(expression: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """croniter's own sequence, with the two documented rules applied to it."""
    zone = ZoneInfo(tz)
    it = croniter(expression, (start - timedelta(seconds=1)).astimezone(zone))
    found: list[datetime] = []
    while True:
        moment = it.get_next(datetime).astimezone(UTC)
        if moment > end:
            return found
        second_pass = moment.astimezone(zone).fold == 1
        if second_pass and expression.split()[1] != "*":
            continue
        if moment >= start and (not found or found[-1] != moment):
            found.append(moment)


@settings(max_examples=80, deadline=None)
@given(expression=crons, tz=st.sampled_from(ZONES), day=st.sampled_from(DST_DAYS),
       offset=st.integers(min_value=-18, max_value=12))
def test_cron_matches_croniter_across_dst(expression, tz, day, offset):
    start = day.replace(tzinfo=UTC) + timedelta(hours=offset)
    end = start + timedelta(hours=10)
    spec = ScheduleSpec(cron=expression, timezone=tz)
    got = fire_times(spec, start, end)
    assert got == library_cron(expression, tz, start, end)
    assert got == sorted(set(got)), "strictly increasing, no instant twice"
    # The same times walking backwards.
    assert previous_times(spec, end + timedelta(seconds=1), len(got)) == got[::-1]


@settings(max_examples=60, deadline=None)
@given(seconds=st.integers(min_value=300, max_value=4 * 3600), tz=st.sampled_from(ZONES),
       day=st.sampled_from(DST_DAYS), offset=st.integers(min_value=-24, max_value=24),
       back=st.integers(min_value=0, max_value=3 * 86400))
def test_interval_matches_dateutil_elapsed_time(seconds, tz, day, offset, back):
    # A wall-clock anchor in the zone, some time before the window (dateutil walks from it).
    anchor = (day - timedelta(seconds=back)).replace(second=17, tzinfo=ZoneInfo(tz))
    spec = ScheduleSpec(interval=seconds, timezone=tz, anchor_date=anchor)
    start = day.replace(tzinfo=UTC) + timedelta(hours=offset)
    end = start + timedelta(hours=8)
    # dateutil counting elapsed seconds in UTC (no wall clock), from the same anchor.
    rule = rrule(SECONDLY, interval=seconds, dtstart=anchor.astimezone(UTC))
    expected = rule.between(start, end, inc=True)
    assert fire_times(spec, start, end) == expected


def _local(times: list[datetime], tz: str) -> list[str]:
    return [t.astimezone(ZoneInfo(tz)).strftime("%m-%d %H:%M%z") for t in times]


def test_repeated_hour_a_fixed_hour_cron_runs_once_at_the_first_pass():
    spec = ScheduleSpec(cron="30 1 * * *", timezone="America/New_York")
    got = fire_times(spec, datetime(2026, 10, 31, tzinfo=UTC), datetime(2026, 11, 2, 12, tzinfo=UTC))
    assert _local(got, "America/New_York") == [
        "10-31 01:30-0400", "11-01 01:30-0400", "11-02 01:30-0500"]
    # croniter alone would run it twice that night.
    it = croniter("30 1 * * *", datetime(2026, 11, 1, tzinfo=ZoneInfo("America/New_York")))
    assert [it.get_next(datetime).utcoffset() for _ in range(2)] == [
        timedelta(hours=-4), timedelta(hours=-5)]


def test_repeated_hour_an_every_hour_cron_runs_every_real_hour():
    spec = ScheduleSpec(cron="0 * * * *", timezone="Europe/Berlin")
    got = fire_times(spec, datetime(2026, 10, 24, 23, tzinfo=UTC), datetime(2026, 10, 25, 2, tzinfo=UTC))
    assert _local(got, "Europe/Berlin") == [
        "10-25 01:00+0200", "10-25 02:00+0200", "10-25 02:00+0100", "10-25 03:00+0100"]


def test_skipped_hour_runs_once_when_the_gap_ends():
    spec = ScheduleSpec(cron="*/15 2 * * *", timezone="Europe/Berlin")
    got = fire_times(spec, datetime(2026, 3, 28, 12, tzinfo=UTC), datetime(2026, 3, 30, 12, tzinfo=UTC))
    assert _local(got, "Europe/Berlin") == [
        "03-29 03:00+0200", "03-30 02:00+0200", "03-30 02:15+0200", "03-30 02:30+0200",
        "03-30 02:45+0200"]


def test_rrule_in_a_timezone_follows_dateutil():
    spec = ScheduleSpec(rrule="FREQ=DAILY;BYHOUR=2;BYMINUTE=30", timezone="Europe/Berlin")
    got = fire_times(spec, datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    # 02:30 does not exist on 03-29: zoneinfo reads it with the old offset (03:30 CEST).
    assert _local(got, "Europe/Berlin") == [
        "03-28 02:30+0100", "03-29 03:30+0200", "03-30 02:30+0200"]


def test_a_fine_grained_rrule_is_expanded_from_near_the_time_asked():
    # dateutil walks every time from DTSTART (default: the 2020 anchor): FREQ=MINUTELY was
    # ~3.6 million steps (~11 s) per expansion and per deploy-time check, FREQ=SECONDLY
    # hours. The rule is started again on its own grid near the time asked for.
    from stowflow.schedules.expand import _started_near, parse_rrule

    now = datetime.now(UTC)
    for text in ("FREQ=SECONDLY", "FREQ=MINUTELY", "FREQ=MINUTELY;INTERVAL=7;BYHOUR=9",
                 "FREQ=HOURLY;INTERVAL=5\nEXDATE:20260101T000000Z"):
        spec = ScheduleSpec(rrule=text, timezone="Europe/Berlin")  # validated: fires again
        near = _started_near(parse_rrule(spec), now)
        starts = [near._dtstart] if hasattr(near, "_dtstart") else [
            r._dtstart for r in near._rrule]
        assert all(now - timedelta(days=2) < start <= now for start in starts), (text, starts)
        assert len(fire_times(spec, now, now + timedelta(days=2), limit=3)) == 3
        assert len(previous_times(spec, now, 3)) == 3
    counted = ScheduleSpec(rrule="FREQ=MINUTELY;COUNT=5", timezone="UTC",
                           anchor_date=now - timedelta(minutes=2))
    rule = parse_rrule(counted)
    assert _started_near(rule, now) is rule  # COUNT counts from DTSTART: never moved


rrule_lines = st.builds(
    lambda freq, interval, extra: f"FREQ={freq};INTERVAL={interval}{extra}",
    st.sampled_from(["MINUTELY", "HOURLY", "DAILY", "WEEKLY"]),  # SECONDLY: same path, slow walk
    st.sampled_from([1, 2, 7, 25]),
    st.sampled_from(["", ";BYHOUR=1,2,3", ";BYMINUTE=0,30", ";BYDAY=MO,WE;BYHOUR=2",
                     ";BYSETPOS=-1;BYHOUR=1,2", ";BYMONTHDAY=1,15", ";BYSECOND=5",
                     ";BYMINUTE=10;BYSECOND=0,30"]))
# one rule, or a set: two rules (each started on its own grid), an RDATE before DTSTART
rrule_texts = st.one_of(
    rrule_lines, st.builds(lambda a, b: f"RRULE:{a}\nRRULE:{b}", rrule_lines, rrule_lines),
    st.builds(lambda a: f"RRULE:{a}\nRDATE:20260101T000000Z", rrule_lines))


@settings(max_examples=60, deadline=None)
@given(text=rrule_texts, tz=st.sampled_from(ZONES), day=st.sampled_from(DST_DAYS),
       offset=st.integers(min_value=-12, max_value=12),
       back=st.integers(min_value=0, max_value=6 * 86400))
def test_rrule_expansion_matches_dateutil_walking_from_its_start(text, tz, day, offset, back):
    # Started near the time asked, the expansion must give what dateutil's own walk from
    # DTSTART gives (DTSTART kept within days of it, so that the walk is affordable here),
    # forward and back, across DST changes.
    from stowflow.schedules.expand import parse_rrule

    anchor = (day - timedelta(seconds=back)).replace(second=17, tzinfo=ZoneInfo(tz))
    spec = ScheduleSpec.model_construct(rrule=text, timezone=tz, anchor_date=anchor,
                                        cron=None, interval=None)
    start = day.replace(tzinfo=UTC) + timedelta(hours=offset)
    end = start + timedelta(hours=6)
    try:
        rule = parse_rrule(spec)
    except ValueError:  # a combination dateutil refuses (its grid never meets the BY* parts)
        assume(False)
    # dateutil's own times from DTSTART, as real times: ordered and each once (it steps the
    # wall clock, and a wall time in a spring-forward gap is read as the real time after
    # it, so its order is not the real order near a gap); a day past ``end`` is enough.
    walked = []
    for local in rule:
        moment = local.astimezone(UTC)
        if moment > end + timedelta(days=1):
            break
        walked.append(moment)
    real = sorted(set(walked))
    assert fire_times(spec, start, end, limit=50) == [t for t in real if start <= t <= end][:50]
    before = [t for t in real if t < start]
    assert previous_times(spec, start, 3) == sorted(set(before))[::-1][:3]


def test_naive_rdate_and_exdate_are_read_in_the_schedules_timezone():
    # As a naive DTSTART is: dateutil leaves them naive, and comparing them with the rule's
    # aware times failed ("can't compare offset-naive and offset-aware datetimes").
    spec = ScheduleSpec(rrule="RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0\n"
                        "EXDATE:20270102T090000\nRDATE:20270103T123000",
                        timezone="Europe/Berlin", anchor_date=datetime(2027, 1, 1))
    start = datetime(2027, 1, 1, tzinfo=UTC)
    assert fire_times(spec, start, start + timedelta(days=3)) == [
        datetime(2027, 1, 1, 8, tzinfo=UTC),  # 09:00 in Berlin (CET)
        datetime(2027, 1, 3, 8, tzinfo=UTC), datetime(2027, 1, 3, 11, 30, tzinfo=UTC)]


@pytest.mark.parametrize(("values", "field", "words"), [
    ({"cron": "61 * * * *"}, "cron", "invalid cron expression"),
    ({"cron": "0 9 * *"}, "cron", "5 fields"),
    ({"cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "timezone", "unknown timezone"),
    ({"interval": 0}, "interval", "positive"),
    ({"interval": -5}, "interval", "positive"),
    ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "rrule", "never fires"),
    ({"cron": "0 9 31 2 *"}, "cron", "never fires"),
    ({"cron": "0 9 31 4,6 *"}, "cron", "never fires"),
    ({"rrule": "FREQ=DAILY;COUNT=2", "anchor_date": "2020-01-01T00:00:00"}, "rrule", "never fires"),
    ({"rrule": "FREQ=SOMETIMES"}, "rrule", "invalid rrule"),
    ({"rrule": "garbage"}, "rrule", "'garbage' is not a NAME=VALUE part"),
    ({"rrule": "FREQ=DAILY;BYHOUR"}, "rrule", "'BYHOUR' is not a NAME=VALUE part"),
    ({"rrule": "BYHOUR=3"}, "rrule", "it has no FREQ"),
    ({"rrule": "FREQ=DAILY;UNTIL=20300101T000000"}, "rrule", "UNTIL must be a UTC time: end"),
    ({}, None, "exactly one of"),
    ({"cron": "* * * * *", "interval": 60}, None, "exactly one of"),
    ({"cron": "* * * * *", "max_active_runs": 0}, "max_active_runs", "greater than"),
])
def test_invalid_schedules_say_what_is_wrong(values, field, words):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        ScheduleSpec.model_validate(values)
    error = info.value.errors()[0]
    assert words in error["msg"]
    assert (error["loc"][0] if error["loc"] else None) == field
