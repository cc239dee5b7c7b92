"""Who may use the server, CSRF protection, and the headers every response carries.

- Without a token (bound to loopback only) every request is allowed, but the ``Host``
  header must name a loopback host, so a web page on another site cannot reach the UI
  through DNS rebinding.
- With a token, a browser logs in once (``/login``) and gets a session cookie (signed,
  HttpOnly, SameSite=Strict); API clients send ``Authorization: Bearer <token>``.
- Every state-changing request needs a valid bearer token, or the session's CSRF token (a
  form field or the ``X-CSRF-Token`` header htmx sends), or — only without a token, on
  ``/api/`` — a JSON body or a PUT/PATCH/DELETE, with no foreign ``Origin`` (a cross-site
  page cannot send either without a CORS preflight, which is never granted).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from fastapi import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from stowflow.errors import StowflowError
from stowflow.server.config import ServerConfig, is_loopback

SESSION_COOKIE = "stowflow_session"
SESSION_MAX_AGE = 8 * 3600

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
#: Paths anyone may fetch: the login page, static files, the health check.
OPEN_PREFIXES = ("/login", "/static/", "/api/health")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CsrfError(StowflowError):
    """A state-changing request came without a valid CSRF token (or bearer token)."""


class Guard:
    """The access rules of one server (built from its :class:`ServerConfig`)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._token = config.token.get_secret_value().encode() if config.token else None

    @property
    def login_required(self) -> bool:
        """Whether the server has a token (and so a login page)."""
        return self._token is not None

    def token_matches(self, value: str) -> bool:
        """Return whether ``value`` is the server token (compared in constant time)."""
        return self._token is not None and hmac.compare_digest(value.encode(), self._token)

    def bearer_ok(self, request: Request) -> bool:
        """Return whether the request carries ``Authorization: Bearer <the token>``."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_matches(value.strip())

    def authenticated(self, request: Request) -> bool:
        """Return whether the request may see the UI and API."""
        if self._token is None or request.state.bearer:
            return True
        return request.session.get("auth") is True

    def host_allowed(self, request: Request) -> bool:
        """Return whether the ``Host`` header is acceptable (loopback names when bound there)."""
        if not self.config.local_only:
            return True
        host = urlsplit(f"//{request.headers.get('host', '')}").hostname or ""
        return is_loopback(host)

    async def middleware(self, request: Request,
                         call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Refuse unknown hosts and unauthenticated requests; add the security headers."""
        request.state.bearer = self.bearer_ok(request)
        response: Response
        path = request.url.path
        if not self.host_allowed(request):
            response = PlainTextResponse("unknown host: use 127.0.0.1 or localhost", 400)
        elif not self.authenticated(request) and not path.startswith(OPEN_PREFIXES):
            if path.startswith("/api/"):
                scheme = request.headers.get("authorization", "").partition(" ")[0]
                refused = ({"error": "the bearer token is not this server's token",
                            "hint": "send the token the server was started with (its "
                            "--auth-token or STOWFLOW_SERVER_TOKEN)"}
                           if scheme.lower() == "bearer" else
                           {"error": "authentication required",
                            "hint": "send Authorization: Bearer <token>"})
                response = JSONResponse(refused, 401, headers={"WWW-Authenticate": "Bearer"})
            else:
                response = RedirectResponse(f"/login?next={quote(path)}", 303)
        else:
            response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    async def check_write(self, request: Request) -> None:
        """FastAPI dependency of every state-changing route: raise CsrfError unless the
        request proves it comes from this UI or an API client (see the module docstring)."""
        if request.method not in UNSAFE_METHODS or request.state.bearer:
            return
        sent = request.headers.get("x-csrf-token")
        if sent is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get("csrf_token")
            sent = value if isinstance(value, str) else None
        expected = request.session.get("csrf")
        if sent and expected and hmac.compare_digest(sent.encode(), expected.encode()):
            return
        if (self._token is None and request.url.path.startswith("/api/")
                and (request.method != "POST" or request.headers.get(
                    "content-type", "").startswith("application/json"))
                and _same_origin(request)):
            return
        raise CsrfError("this request has no valid CSRF token",
                        hint="reload the page and submit the form again")


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


def csrf_token(request: Request) -> str:
    """Return the session's CSRF token, creating it on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def safe_next(target: str | None) -> str:
    """Return ``target`` if it is a path on this server (no open redirect), else ``/``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def require_write(request: Request) -> None:
    """The dependency state-changing routes declare: the app's :meth:`Guard.check_write`."""
    await request.app.state.guard.check_write(request)
