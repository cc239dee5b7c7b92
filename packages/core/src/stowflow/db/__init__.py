"""The database: models, engines and sessions."""

from stowflow.db.engine import dispose_engines, get_engine, session
from stowflow.db.models import (
    Base,
    BlockDocumentRecord,
    BlockTypeRecord,
    DeploymentRecord,
    DeploymentVersionRecord,
    FlowRunRecord,
    RunEventRecord,
    RunLogRecord,
    ScheduleRecord,
    ScheduleSkipRecord,
    VariableRecord,
    WorkPoolRecord,
    WorkQueueRecord,
    new_id,
    utcnow,
)

__all__ = [
    "Base",
    "BlockDocumentRecord",
    "BlockTypeRecord",
    "DeploymentRecord",
    "DeploymentVersionRecord",
    "FlowRunRecord",
    "RunEventRecord",
    "RunLogRecord",
    "ScheduleRecord",
    "ScheduleSkipRecord",
    "VariableRecord",
    "WorkPoolRecord",
    "WorkQueueRecord",
    "dispose_engines",
    "get_engine",
    "new_id",
    "session",
    "utcnow",
]
