"""The Jinja2 environment of the UI (autoescaping every template) and :func:`render`.

Jinja2 is imported, and the environment built, by the first page rendered, not when the
server starts: ``/api/health`` answers (the start-up benchmark's end point) without it.
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.responses import Response

from stowflow.server.security import csrf_token

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).parent / "templates"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _seconds(value: float | None) -> str:
    return f"{value:.3f}s" if value is not None else "-"


@functools.cache
def templates() -> Jinja2Templates:
    """Return the UI's templates (built once, by the first render)."""
    from fastapi.templating import Jinja2Templates
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from stowflow.runs import shown_state

    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["when"] = _when
    env.filters["seconds"] = _seconds
    env.filters["shown_state"] = shown_state  # a run's state, or LATE (derived, not stored)
    return Jinja2Templates(env=env)


def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200) -> Response:
    """Render template ``name`` with ``context``, the CSRF token and the login state."""
    guard = request.app.state.guard
    full = {"csrf": csrf_token(request), "login_required": guard.login_required,
            "nav": request.url.path.split("/")[1] if request.url.path != "/" else "",
            **(context or {})}
    return templates().TemplateResponse(request, name, full, status_code=status_code)
