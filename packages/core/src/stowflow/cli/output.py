"""The CLI's consoles: everything printed passes through the shared redactor."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from stowflow.redact import redact


class RedactingConsole(Console):
    """A Rich console whose rendered text is redacted before it is written."""

    def _render_buffer(self, buffer: Any) -> str:
        return redact(super()._render_buffer(buffer))


console = RedactingConsole(highlight=False, soft_wrap=True)
err_console = RedactingConsole(stderr=True, highlight=False, soft_wrap=True)

MASKED = "********"
