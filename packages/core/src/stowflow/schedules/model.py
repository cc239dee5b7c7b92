"""A schedule as written in ``stowflow.yaml`` or passed to ``deploy()``: validated once.

Exactly one of ``cron`` (with an optional ``timezone``), ``interval`` (seconds, with an
optional ``anchor_date``) or ``rrule`` (an iCalendar recurrence rule). Each is checked with
the library that expands it (croniter, python-dateutil, zoneinfo), so a schedule that is
accepted is one the scheduler can expand; an error is a ``ValueError`` whose message says
what is wrong, which the ``stowflow.yaml`` loader turns into one naming file, line and field.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

#: Where an interval or rrule without an anchor starts counting (in the schedule's timezone).
DEFAULT_ANCHOR = datetime(2020, 1, 1)


def zone(name: str) -> ZoneInfo:
    """Return the IANA timezone ``name``; ValueError naming it when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown timezone {name!r}: use an IANA name such as "
                         "'Europe/Berlin' or 'UTC'") from None


def check_cron(expression: str) -> str:
    """Return ``expression`` if croniter accepts it as a 5-field cron that fires; ValueError
    otherwise (also for a day that no month has, ``0 9 31 2 *``: croniter parses it and only
    fails when asked for a time, which the scheduler would be, for ever)."""
    from croniter import CroniterBadDateError, croniter

    if not isinstance(expression, str) or len(expression.split()) != 5 \
            or not croniter.is_valid(expression):
        raise ValueError(f"invalid cron expression {expression!r}: expected 5 fields "
                         "'minute hour day-of-month month day-of-week', e.g. '0 9 * * MON-FRI'")
    try:
        croniter(expression, datetime.now(UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"the cron {expression!r} never fires: no month has the day its "
                         "day-of-month and month fields name") from None
    return expression


class ScheduleSpec(BaseModel):
    """One schedule of a deployment."""

    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(default=None, description="A 5-field cron expression.")
    interval: float | None = Field(default=None, description="Seconds between runs.")
    timezone: str = Field(default="UTC", description="IANA timezone the schedule is read in.")
    anchor_date: datetime | None = Field(
        default=None, description="Where an interval (or an rrule without DTSTART) starts.")
    # After timezone and anchor_date: its validator reads them.
    rrule: str | None = Field(default=None, description="An iCalendar RRULE (RFC 5545).")
    active: bool = Field(default=True, description="A paused schedule creates no runs.")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the deployment's parameters.")
    max_active_runs: int | None = Field(
        default=None, ge=1, description="Most runs of this schedule pending or running at once.")

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> Any:
        if isinstance(value, timedelta):
            value = value.total_seconds()
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not math.isfinite(value) or value <= 0):
            raise ValueError(f"interval must be a positive number of seconds, got {value!r}")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "timezone" not in info.data:
            return value  # an invalid timezone is reported on its own
        from stowflow.schedules.expand import next_fire, parse_rrule

        probe = cls.model_construct(rrule=value, timezone=info.data["timezone"],
                                    anchor_date=info.data.get("anchor_date"))
        parse_rrule(probe)  # ValueError when dateutil cannot read it
        if next_fire(probe, datetime.now(UTC)) is None:
            raise ValueError(f"the rrule {value!r} never fires again")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleSpec:
        kinds = [k for k in ("cron", "interval", "rrule") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a schedule needs exactly one of 'cron', 'interval' or 'rrule'"
                             + (f" (got {', '.join(kinds)})" if kinds else ""))
        return self

    @property
    def kind(self) -> str:
        """``cron``, ``interval`` or ``rrule``."""
        return "cron" if self.cron is not None else "interval" if self.interval is not None \
            else "rrule"

    def describe(self) -> str:
        """A one-line description: ``cron '0 9 * * *' (Europe/Berlin)``."""
        if self.cron is not None:
            return f"cron '{self.cron}' ({self.timezone})"
        if self.interval is not None:
            return f"every {self.interval:g}s"
        return f"rrule '{self.rrule}' ({self.timezone})"


def schedules_from_arguments(*, cron: str | None = None, interval: float | timedelta | None = None,
                             rrule: str | None = None, timezone: str | None = None,
                             schedules: list[Any] | None = None) -> list[ScheduleSpec] | None:
    """Return the schedules the ``deploy()`` keyword arguments describe (``None``: none given).

    ``schedules`` items may be ScheduleSpec or dicts; ``cron``/``interval``/``rrule`` add one
    schedule each (``timezone`` applies to them only: given without any of them it is a
    ValueError, not dropped). Raises ValueError for an invalid one.
    """
    if timezone and cron is None and interval is None and rrule is None:
        raise ValueError("timezone= applies to cron=, interval= or rrule=; a schedule in "
                         "schedules= takes its own 'timezone'")
    if cron is None and interval is None and rrule is None and schedules is None:
        return None
    found = [s if isinstance(s, ScheduleSpec) else ScheduleSpec.model_validate(s)
             for s in schedules or []]
    extra: dict[str, Any] = {"timezone": timezone} if timezone else {}
    for kind, value in (("cron", cron), ("interval", interval), ("rrule", rrule)):
        if value is not None:
            found.append(ScheduleSpec.model_validate({kind: value, **extra}))
    return found


def missing_parameters(spec: ScheduleSpec, defaults: dict[str, Any],
                       schema: dict[str, Any]) -> list[str]:
    """Return the required parameters (by ``schema``) a run of ``spec`` would lack, given the
    deployment's ``defaults`` and the schedule's own ``parameters``."""
    given = {**(defaults or {}), **spec.parameters}
    return [name for name in (schema or {}).get("required") or [] if name not in given]


def invalid_parameters(spec: ScheduleSpec, schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the ``(field, message)`` problems ``schema`` finds in the schedule's own
    ``parameters`` (a wrong type, a name the flow does not take), by the rule ``deployment
    run`` applies (:func:`stowflow.runs.params.parameter_problems`), so a schedule never
    creates runs that cannot start. Only the given values are checked (missing ones are
    :func:`missing_parameters`'); a ``{{ placeholder }}`` is only known at run time.
    ``field`` is the parameter's dotted path, ``""`` for the parameters as a whole."""
    from stowflow.placeholders import has_placeholder
    from stowflow.runs.params import parameter_problems

    values = {name: value for name, value in spec.parameters.items()
              if not has_placeholder(value)}
    given_only = {key: value for key, value in (schema or {}).items() if key != "required"}
    return parameter_problems(values, given_only)
