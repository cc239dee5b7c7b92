"""The database: models, engines and sessions.

The engine functions are imported with the package; the models (``stowflow.db.models``,
which imports SQLAlchemy's ORM) on first use of one of their names, so a process that only
needs an engine — ``stowflow server start`` answering ``/api/health`` — does not pay the
ORM's import before it serves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stowflow.db.engine import dispose_engines, get_engine, session

if TYPE_CHECKING:
    from stowflow.db.models import (
        Base,
        BlockDocumentRecord,
        BlockTypeRecord,
        DeploymentRecord,
        DeploymentVersionRecord,
        FlowRunRecord,
        FlowRunStateRecord,
        RunEventRecord,
        RunLogRecord,
        ScheduleRecord,
        ScheduleSkipRecord,
        VariableRecord,
        WorkerRecord,
        WorkPoolRecord,
        WorkQueueRecord,
        new_id,
        new_ids,
        utcnow,
    )

__all__ = [
    "Base",
    "BlockDocumentRecord",
    "BlockTypeRecord",
    "DeploymentRecord",
    "DeploymentVersionRecord",
    "FlowRunRecord",
    "FlowRunStateRecord",
    "RunEventRecord",
    "RunLogRecord",
    "ScheduleRecord",
    "ScheduleSkipRecord",
    "VariableRecord",
    "WorkPoolRecord",
    "WorkQueueRecord",
    "WorkerRecord",
    "dispose_engines",
    "get_engine",
    "new_id",
    "new_ids",
    "session",
    "utcnow",
]

#: Names of ``stowflow.db.models`` this package re-exports, imported on first use.
_MODELS = frozenset(__all__) - {"dispose_engines", "get_engine", "session"}


def __getattr__(name: str) -> Any:
    if name not in _MODELS:
        raise AttributeError(f"module 'stowflow.db' has no attribute {name!r}")
    import stowflow.db.models as models  # an import statement: -X importtime shows it

    value = getattr(models, name)
    globals()[name] = value  # later lookups skip this function
    return value
