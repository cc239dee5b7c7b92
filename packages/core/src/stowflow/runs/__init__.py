"""Flow runs: create them from deployments, move them through their states, log them.

``from stowflow.runs import create_flow_run, get_flow_run, set_state, State``.
"""

from stowflow.runs.api import (
    LATE,
    LATE_AFTER,
    InvalidTransitionError,
    create_flow_run,
    deployment_for_run,
    deployment_or_none,
    find_deployment,
    get_flow_run,
    is_late,
    list_flow_runs,
    read_states,
    refuse_if_paused,
    request_cancel,
    set_state,
    shown_state,
    update_run,
)
from stowflow.runs.logs import (
    PHASES,
    phase,
    read_events,
    read_log_page,
    read_logs,
    record_event,
    write_logs,
)
from stowflow.runs.params import (
    ParameterError,
    coerce_text,
    masked_parameters,
    parameter_problems,
    parse_param_pairs,
    secret_parameter_names,
    validate_parameters,
)
from stowflow.runs.retry import is_image_id, pull_steps_for, retry_flow_run
from stowflow.runs.states import FINAL_STATES, TRANSITIONS, State, is_final

__all__ = [
    "FINAL_STATES",
    "LATE",
    "LATE_AFTER",
    "PHASES",
    "TRANSITIONS",
    "InvalidTransitionError",
    "ParameterError",
    "State",
    "coerce_text",
    "create_flow_run",
    "deployment_for_run",
    "deployment_or_none",
    "find_deployment",
    "get_flow_run",
    "is_final",
    "is_image_id",
    "is_late",
    "list_flow_runs",
    "masked_parameters",
    "parameter_problems",
    "parse_param_pairs",
    "phase",
    "pull_steps_for",
    "read_events",
    "read_log_page",
    "read_logs",
    "read_states",
    "record_event",
    "refuse_if_paused",
    "request_cancel",
    "retry_flow_run",
    "secret_parameter_names",
    "set_state",
    "shown_state",
    "update_run",
    "validate_parameters",
    "write_logs",
]
