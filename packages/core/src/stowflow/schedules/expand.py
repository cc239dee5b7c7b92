"""Expanding a schedule into the UTC times it fires at, with the DST rules stowflow chose.

The times come from the libraries: croniter for cron (read in the schedule's timezone),
python-dateutil for rrule, and exact elapsed-time arithmetic for intervals. Two rules are
applied on top, the same for every kind, so the scheduler never runs a time twice:

- **Repeated hour** (clocks go back, e.g. 01:00-02:00 happens twice): a cron whose hour
  field is not ``*`` fires once, at the first occurrence (croniter itself would fire
  ``30 1 * * *`` twice: at 01:30 daylight time and again at 01:30 standard time, an hour
  later). A cron whose hour field is ``*`` fires every real hour, both passes included
  (``0 * * * *`` runs at 01:00 EDT and 01:00 EST: those are two different hours).
  dateutil already yields a repeated wall time once (the first occurrence).
- **Skipped hour** (clocks go forward, e.g. 02:00-03:00 does not exist): nothing is lost.
  A cron time inside the gap fires once when the gap ends (croniter's answer: ``30 2 * * *``
  runs at 03:00 that day; ``*/15 2 * * *`` runs once at 03:00, not four times). An rrule
  time inside the gap fires shifted by the gap (zoneinfo's reading of a non-existent wall
  time: 02:30 becomes 03:30).
- **Intervals** are elapsed time: ``interval: 3600`` fires every 3600 real seconds from its
  anchor (the first run; default 2020-01-01 00:00 in the schedule's timezone), so its
  wall-clock times move by an hour across a DST change.

Equal instants are yielded once.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from stowflow.schedules.model import DEFAULT_ANCHOR, ScheduleSpec, zone

_ONE_SECOND = timedelta(seconds=1)


def _aware(value: datetime, tz: Any) -> datetime:
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def anchor_of(spec: ScheduleSpec) -> datetime:
    """The interval's (or dtstart-less rrule's) anchor, timezone-aware."""
    tz = zone(spec.timezone)
    return _aware(spec.anchor_date or DEFAULT_ANCHOR, tz)


def parse_rrule(spec: ScheduleSpec) -> Any:
    """Return the dateutil rule for ``spec.rrule`` with a timezone-aware DTSTART.

    Without a DTSTART in the text the anchor is used; a naive DTSTART is read in the
    schedule's timezone. Raises ValueError when dateutil cannot read the rule.
    """
    from dateutil.rrule import rrule as RRule
    from dateutil.rrule import rrulestr

    assert spec.rrule is not None
    tz = zone(spec.timezone)
    try:
        rule = rrulestr(spec.rrule, dtstart=anchor_of(spec).astimezone(tz), unfold=True)
        if isinstance(rule, RRule) and rule._dtstart.tzinfo is None:
            rule = rule.replace(dtstart=rule._dtstart.replace(tzinfo=tz))
        elif not isinstance(rule, RRule):
            rule = _dates_read_in(rule, tz)
        rule.after(datetime(2000, 1, 1, tzinfo=UTC))  # mixing naive and aware fails here
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"invalid rrule {spec.rrule!r}: {_rrule_reason(spec.rrule, exc)}"
                         ) from None
    return rule


def _dates_read_in(rules: Any, tz: Any) -> Any:
    """``rules`` (a set) with its naive RDATE / EXDATE times read in ``tz``, as a naive
    DTSTART is (dateutil leaves them naive, and comparing them with the aware times fails)."""
    if all(d.tzinfo is not None for d in (*rules._rdate, *rules._exdate)):
        return rules
    return _set_like(rules, rules._rrule, dates=lambda d: _aware(d, tz))


def _set_like(rules: Any, rrules: list[Any], *, dates: Any = None) -> Any:
    """A new rruleset with ``rules``' EXRULEs, its RDATE / EXDATE times (each through
    ``dates``, when given) and ``rrules`` as its rules."""
    from dateutil.rrule import rruleset

    made = rruleset()
    for item in rrules:
        made.rrule(item)
    for item in rules._exrule:
        made.exrule(item)
    for date in rules._rdate:
        made.rdate(dates(date) if dates else date)
    for date in rules._exdate:
        made.exdate(dates(date) if dates else date)
    return made


def _rrule_reason(text: str, exc: Exception) -> str:
    """Say what is wrong with an rrule in the user's words: dateutil's own message where it
    names the problem (``invalid 'FREQ': SOMETIMES``, ``hour must be in 0..23``), not the
    Python errors its parser raises for a part without ``=`` or a rule without FREQ."""
    example = "e.g. 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=9'"
    if "unpack" in str(exc):
        parts = []
        for line in text.splitlines():
            name, colon, rest = line.strip().partition(":")
            if colon and name.upper() not in ("RRULE", "EXRULE"):
                continue  # DTSTART:, RDATE:... hold dates, not NAME=VALUE parts
            parts += (rest if colon else line).split(";")
        bare = [part.strip() for part in parts if part.strip() and "=" not in part]
        if bare:
            return f"{bare[0]!r} is not a NAME=VALUE part ({example})"
    if isinstance(exc, TypeError) and "freq" in str(exc):
        return f"it has no FREQ ({example})"
    if "UNTIL" in str(exc) and "UTC" in str(exc):
        return "its UNTIL must be a UTC time: end it with Z (e.g. UNTIL=20301231T235959Z)"
    return str(exc)


def _hour_is_wildcard(expression: str) -> bool:
    return expression.split()[1] == "*"


def _cron(spec: ScheduleSpec, point: datetime, forward: bool) -> Iterator[datetime]:
    if not forward:
        # croniter's get_prev steps the wall clock back and, across a repeated hour, skips
        # a pass that get_next yields: going back is the forward times of growing windows.
        yield from _back_by_windows(lambda start: _cron(spec, start, True), point)
        return
    from croniter import croniter

    assert spec.cron is not None
    tz = zone(spec.timezone)
    keep_second_pass = _hour_is_wildcard(spec.cron)
    # croniter steps strictly past its start; one second back makes ``point`` inclusive.
    it = croniter(spec.cron, (point - _ONE_SECOND).astimezone(tz))
    while True:
        moment = it.get_next(datetime).astimezone(UTC)
        if not keep_second_pass and moment.astimezone(tz).fold == 1:
            continue  # the repeated hour's second pass: this wall time already fired
        yield moment


#: How far back a cron looks: nothing before this is a time it fired at.
_CRON_EPOCH = datetime(1971, 1, 1, tzinfo=UTC)


def _back_by_windows(forward_from: Any, point: datetime) -> Iterator[datetime]:
    """The times before ``point``, newest first, from ``forward_from(start)`` (the times
    at or after ``start``, oldest first) over windows of 10, 20, 40... minutes back (a
    tick's catch-up asks for the last one or few: a minute cron steps about 10 times)."""
    end, window = point, timedelta(minutes=10)
    while end > _CRON_EPOCH:
        start = max(point - window, _CRON_EPOCH)
        chunk = []
        for moment in forward_from(start):
            if moment >= end:
                break
            chunk.append(moment)
        yield from reversed(chunk)
        end, window = start, window * 2


def _interval(spec: ScheduleSpec, point: datetime, forward: bool) -> Iterator[datetime]:
    assert spec.interval is not None
    step = timedelta(seconds=spec.interval)
    anchor = anchor_of(spec).astimezone(UTC)
    if forward:
        # ceil: the first k with anchor + k*step >= point; the anchor is the first run.
        k = max(-((anchor - point) // step), 0)
        while True:
            yield anchor + k * step
            k += 1
    else:
        k = (point - anchor) // step
        if anchor + k * step >= point:
            k -= 1
        while k >= 0:
            yield anchor + k * step
            k -= 1


def _rrule(spec: ScheduleSpec, point: datetime, forward: bool) -> Iterator[datetime]:
    rule = parse_rrule(spec)
    if forward:
        # Every time at or after ``point`` is at or after the moved DTSTART (a day earlier).
        times = (local.astimezone(UTC) for local in _started_near(rule, point))
        return _in_time_order(times, forward=True)
    return _in_time_order(_back_from(rule, point), forward=False)


def _back_from(rule: Any, point: datetime) -> Iterator[datetime]:
    """The rule's times before ``point``, going back a window at a time (each twice the
    last): a window takes the real times in [its DTSTART + a day, the previous window's
    start) — all of them, as wall-clock order and real order differ by less than a day —
    in wall-clock order, newest first."""
    end, window = point, _BACK_WINDOW
    while True:
        near = _started_near(rule, point - window)
        # Once the window reaches the rule's own DTSTART, the rest (from _EVER: an RDATE
        # may come before any DTSTART).
        start = _EVER if near is rule else _dtstart_of(near).astimezone(UTC) + _SLACK
        chunk = []
        for local in near:
            moment = local.astimezone(UTC)
            if moment > end + _SLACK:  # every later one is after ``end``
                break
            if start <= moment < end:
                chunk.append(moment)
        yield from reversed(chunk)
        if near is rule:
            return
        end, window = start, window * 2


def _in_time_order(times: Iterator[datetime], *, forward: bool) -> Iterator[datetime]:
    """``times`` in wall-clock order, yielded in real-time order (oldest first when
    ``forward``). dateutil steps the wall clock, and a wall time in a spring-forward gap is
    read as the real time after it (02:27 with a 30-minute gap is 02:57), so real times
    come out of order by less than a day (:data:`_SLACK`): each is held until a time a day
    past it has come."""
    sign = 1 if forward else -1
    held: list[tuple[float, datetime]] = []
    for moment in times:
        key = sign * moment.timestamp()
        heapq.heappush(held, (key, moment))
        while held and held[0][0] < key - _SLACK.total_seconds():
            yield heapq.heappop(held)[1]
    while held:
        yield heapq.heappop(held)[1]


#: dateutil walks every time of a rule from its DTSTART (the 2020 anchor when the text has
#: none) to the one asked for: ~3.6 million steps for ``FREQ=MINUTELY`` in 2026 (~11 s),
#: hours for ``FREQ=SECONDLY``. For these frequencies (fixed-length periods on the wall
#: clock) and no COUNT, the rule is started again at a time of its own grid near the one
#: asked for: DTSTART plus whole intervals, in the wall-clock fields dateutil steps. Every
#: BY* part filters or expands within one period, and the periods keep their places, so
#: the times from there on are the original rule's. Coarser frequencies cost at most a
#: few thousand steps and are left as they are; so is a rule with COUNT (it counts from
#: its DTSTART) — its COUNT bounds the walk.
# Keyed by dateutil's HOURLY, MINUTELY, SECONDLY (4, 5, 6; dateutil is imported lazily).
_FINE_PERIODS = {4: timedelta(hours=1), 5: timedelta(minutes=1), 6: timedelta(seconds=1)}
_SLACK = timedelta(days=1)  # more than any DST shift between wall-clock and real time
_BACK_WINDOW = timedelta(days=2)
_EVER = datetime(1, 1, 2, tzinfo=UTC)


def _dtstart_of(rule: Any) -> datetime:
    """From when on ``rule`` (a moved rule or set) yields all its times: its DTSTART, or
    the latest DTSTART of a set's rules."""
    from dateutil.rrule import rrule as RRule

    return rule._dtstart if isinstance(rule, RRule) else max(r._dtstart for r in rule._rrule)


def _started_near(rule: Any, moment: datetime) -> Any:
    """``rule`` started again on its own grid at or before ``moment`` less a day, when that
    is sound (see :data:`_FINE_PERIODS`); else ``rule`` itself. A set (RDATE, EXDATE) gets
    each of its rules started so, its dates kept."""
    from dateutil.rrule import rrule as RRule

    if isinstance(rule, RRule):
        period = _FINE_PERIODS.get(rule._freq)
        if period is None or rule._count is not None:
            return rule
        start = rule._dtstart
        wall = moment.astimezone(start.tzinfo).replace(tzinfo=None) - _SLACK
        step = period * rule._interval
        periods = (wall - start.replace(tzinfo=None)) // step
        if periods <= 0:
            return rule
        moved = (start.replace(tzinfo=None) + periods * step).replace(tzinfo=start.tzinfo)
        return rule.replace(dtstart=moved)
    if rule._exrule:  # an EXRULE (deprecated, rare) would need its own older start: kept
        return rule
    moved_rules = [_started_near(r, moment) for r in rule._rrule]
    if all(a is b for a, b in zip(moved_rules, rule._rrule, strict=True)):
        return rule
    return _set_like(rule, moved_rules)


def _unique(times: Iterator[datetime]) -> Iterator[datetime]:
    last = None
    for moment in times:
        if moment != last:
            yield moment
        last = moment


def iter_times(spec: ScheduleSpec, point: datetime, *, forward: bool = True) -> Iterator[datetime]:
    """Yield the UTC times ``spec`` fires at: from ``point`` on (inclusive) when ``forward``,
    else before ``point`` (exclusive) going back. Ends when the schedule does."""
    point = point.astimezone(UTC)
    kinds = {"cron": _cron, "interval": _interval, "rrule": _rrule}
    source = kinds[spec.kind](spec, point, forward)
    if forward:
        return _unique(t for t in source if t >= point)
    return _unique(t for t in source if t < point)


def fire_times(spec: ScheduleSpec, start: datetime, end: datetime,
               limit: int | None = None) -> list[datetime]:
    """Return the UTC times in ``[start, end]`` (at most ``limit`` of them), oldest first."""
    found: list[datetime] = []
    for moment in iter_times(spec, start):
        if moment > end or (limit is not None and len(found) >= limit):
            break
        found.append(moment)
    return found


def next_fire(spec: ScheduleSpec, at_or_after: datetime) -> datetime | None:
    """Return the first UTC time ``spec`` fires at, at or after ``at_or_after`` (None: never)."""
    return next(iter(iter_times(spec, at_or_after)), None)


def previous_times(spec: ScheduleSpec, before: datetime, count: int) -> list[datetime]:
    """Return up to ``count`` UTC times strictly before ``before``, newest first."""
    return list(islice(iter_times(spec, before, forward=False), count))
