"""The login and logout pages (only meaningful when the server has a token), and ``/``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from stowflow.server.security import require_write, safe_next
from stowflow.server.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> Response:
    """Send the browser to the flow runs."""
    return RedirectResponse("/flow-runs", 303)


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    """Show the token form (or go straight on when the server needs no login)."""
    if not request.app.state.guard.login_required:
        return RedirectResponse(safe_next(next), 303)
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login", dependencies=[Depends(require_write)])
def login(request: Request, token: str = Form(""), next: str = Form("/")) -> Response:
    """Check the token; on success start a new session and go on to ``next``."""
    guard = request.app.state.guard
    if not guard.token_matches(token):
        return render(request, "login.html", {"next": safe_next(next),
                                              "error": "wrong token"}, status_code=401)
    request.session.clear()  # a new session: nothing from before the login carries over
    request.session["auth"] = True
    return RedirectResponse(safe_next(next), 303)


@router.post("/logout", dependencies=[Depends(require_write)])
def logout(request: Request) -> Response:
    """End the session."""
    request.session.clear()
    return RedirectResponse("/login", 303)
