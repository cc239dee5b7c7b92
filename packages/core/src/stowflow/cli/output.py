"""The CLI's consoles: everything printed passes through the shared redactor."""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.console import Console

from stowflow.redact import redact


class RedactingConsole(Console):
    """A Rich console whose rendered text is redacted before it is written."""

    def _render_buffer(self, buffer: Any) -> str:
        return redact(super()._render_buffer(buffer))


def _width(stream: Any) -> int | None:
    # Piped output is read by scripts and grep: do not squeeze tables into 80 columns.
    if stream.isatty():
        return None
    return int(os.environ.get("COLUMNS", "200"))


console = RedactingConsole(highlight=False, soft_wrap=True, width=_width(sys.stdout))
err_console = RedactingConsole(stderr=True, highlight=False, soft_wrap=True,
                               width=_width(sys.stderr))
