"""Schedules: cron (in a timezone), intervals and rrules; the scheduler that creates runs.

``from stowflow.schedules import ScheduleSpec, tick, Scheduler, backfill``. Expansion and
its DST rules are in ``expand.py``; the database side in ``store.py``; the scheduler in
``scheduler.py``.
"""

from stowflow.schedules.expand import fire_times, iter_times, next_fire, previous_times
from stowflow.schedules.model import ScheduleSpec, schedules_from_arguments
from stowflow.schedules.scheduler import Scheduler, TickReport, backfill, tick
from stowflow.schedules.store import (
    add_schedule,
    delete_deployment,
    delete_schedule,
    get_schedule,
    list_schedules,
    schedule_view,
    set_deployment_paused,
    set_schedule_active,
    skipped_counts,
    spec_of,
)

__all__ = [
    "ScheduleSpec",
    "Scheduler",
    "TickReport",
    "add_schedule",
    "backfill",
    "delete_deployment",
    "delete_schedule",
    "fire_times",
    "get_schedule",
    "iter_times",
    "list_schedules",
    "next_fire",
    "previous_times",
    "schedule_view",
    "schedules_from_arguments",
    "set_deployment_paused",
    "set_schedule_active",
    "skipped_counts",
    "spec_of",
    "tick",
]
