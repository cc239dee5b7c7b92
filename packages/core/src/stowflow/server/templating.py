"""The Jinja2 environment of the UI (autoescaping every template) and :func:`render`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import Response

from stowflow.server.security import csrf_token

TEMPLATES_DIR = Path(__file__).parent / "templates"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _seconds(value: float | None) -> str:
    return f"{value:.3f}s" if value is not None else "-"


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["when"] = _when
    env.filters["seconds"] = _seconds
    return env


templates = Jinja2Templates(env=_environment())


def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200) -> Response:
    """Render template ``name`` with ``context``, the CSRF token and the login state."""
    guard = request.app.state.guard
    full = {"csrf": csrf_token(request), "login_required": guard.login_required,
            "nav": request.url.path.split("/")[1] if request.url.path != "/" else "",
            **(context or {})}
    return templates.TemplateResponse(request, name, full, status_code=status_code)
