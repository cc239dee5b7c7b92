"""A small client of the stowflow HTTP API, for CLI users who should not hold database
credentials: with ``STOWFLOW_API_URL`` (and ``STOWFLOW_API_TOKEN`` for a server started
with a token) ``deployment run``, ``flow-run ls``, ``flow-run logs`` and ``block ls`` talk
to that server instead of the database.

It uses only the standard library (no web stack in the CLI). Answers are plain JSON; an
error answer becomes the matching :class:`~stowflow.errors.StowflowError` with the
server's message and hint.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from stowflow.errors import ConfigError, NotFoundError, StowflowError
from stowflow.redact import redact, register_secret


class ApiError(StowflowError):
    """The stowflow server refused a request (its message and hint are passed on)."""


class ApiClient:
    """Calls ``<url>/api/...`` with ``Authorization: Bearer <token>`` when a token is set."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"STOWFLOW_API_URL {redact(url)!r} is not an http(s) URL",
                              hint="e.g. STOWFLOW_API_URL=http://127.0.0.1:4300")
        self.url = url.rstrip("/")
        if urllib.parse.urlsplit(self.url).path.endswith("/api"):
            raise ConfigError(f"STOWFLOW_API_URL {redact(url)!r} ends with /api",
                              hint="give the server's address, e.g. "
                              f"{redact(self.url.removesuffix('/api'))}: the CLI adds /api/")
        self.token = token
        self.timeout = timeout
        if token:
            register_secret(token)

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: Any = None) -> Any:
        """Send one request to ``/api/<path>`` and return the decoded JSON answer."""
        query = urllib.parse.urlencode({k: v for k, v in (params or {}).items()
                                        if v is not None})
        target = f"{self.url}/api/{path.lstrip('/')}" + (f"?{query}" if query else "")
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(target, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                try:
                    return json.loads(response.read() or b"null")
                except ValueError:  # not JSON (UnicodeDecodeError is one too)
                    raise self._not_stowflow(f"its answer to /api/{path.lstrip('/')} is "
                                             "not JSON") from None
        except urllib.error.HTTPError as exc:
            try:
                answer = json.loads(exc.read() or b"{}")
            except ValueError:
                answer = None
            cls = NotFoundError if exc.code == 404 else ApiError
            if exc.code == 401 and self.token:
                raise ApiError(f"the server at {self.url} refused the token in "
                               "STOWFLOW_API_TOKEN",
                               hint="set it to the token the server was started with "
                               "(its --auth-token or STOWFLOW_SERVER_TOKEN)") from None
            if exc.code == 401:
                raise ApiError(f"the server at {self.url} needs a token",
                               hint="set STOWFLOW_API_TOKEN to the server's token") from None
            if not isinstance(answer, dict) or not answer.get("error"):
                raise self._not_stowflow(
                    f"HTTP {exc.code} to /api/{path.lstrip('/')}") from None
            raise cls(answer["error"], hint=answer.get("hint")) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ConfigError(f"cannot reach the stowflow server at {self.url}: {reason}",
                              hint="check STOWFLOW_API_URL, or unset it to use the "
                              "database directly") from None

    def _not_stowflow(self, what: str) -> ApiError:
        """The error for an answer no stowflow server gives (another web server, a login
        proxy's page)."""
        return ApiError(f"{self.url} does not answer as a stowflow server ({what})",
                        hint="set STOWFLOW_API_URL to the address 'stowflow server start' "
                        "prints, e.g. http://127.0.0.1:4300")

    def get(self, path: str, **params: Any) -> Any:
        """``GET /api/<path>?params``."""
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        """``POST /api/<path>`` with a JSON body."""
        return self.request("POST", path, body=body)


def client_from_settings() -> ApiClient | None:
    """Return a client when ``STOWFLOW_API_URL`` is set, else ``None`` (use the database)."""
    from stowflow.settings import get_settings

    settings = get_settings()
    if not settings.api_url:
        return None
    token = settings.api_token.get_secret_value() if settings.api_token else None
    return ApiClient(settings.api_url, token)


def as_record(data: dict[str, Any]) -> Any:
    """Return an API answer as an object with attributes (ISO times become datetimes), so
    the CLI prints it like a database record."""
    values = {}
    for key, value in data.items():
        if isinstance(value, str) and key in ("timestamp", "created", "started_at",
                                               "ended_at", "heartbeat_at", "scheduled_at"):
            value = datetime.fromisoformat(value)
        values[key] = value
    return SimpleNamespace(**values)
