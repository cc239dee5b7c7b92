"""The server's logging: uvicorn's and stowflow's records, redacted as they are written.

A formatter (not a filter) does it, so tracebacks — formatted after filters ran — are
redacted too.
"""

from __future__ import annotations

import logging
from typing import Any

from stowflow.redact import redact


class RedactingFormatter(logging.Formatter):
    """A formatter whose output passes through :func:`stowflow.redact.redact`."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the formatted record (message and traceback) with secrets masked."""
        return redact(super().format(record))


def log_config(level: str = "INFO") -> dict[str, Any]:
    """Return the ``logging.config.dictConfig`` uvicorn is started with."""
    formatter = {"()": RedactingFormatter, "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    handler = {"class": "logging.StreamHandler", "formatter": "redacting",
               "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"redacting": formatter},
        "handlers": {"default": handler},
        "loggers": {
            name: {"handlers": ["default"], "level": level, "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "stowflow")
        },
    }
