"""The ASGI application: the JSON API under ``/api/``, the UI pages, static files.

:func:`create_app` wires the routers of :mod:`stowflow.server.api` and
:mod:`stowflow.server.pages` behind the :class:`~stowflow.server.security.Guard`, a signed
session cookie, and error handlers that never show a traceback or an input value.
"""

from __future__ import annotations

import logging
import secrets
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response

from stowflow.errors import (
    BlockAlreadyExistsError,
    BlockInUseError,
    DeploymentPausedError,
    NotFoundError,
    StowflowError,
)
from stowflow.server.config import ServerConfig
from stowflow.server.security import SESSION_COOKIE, SESSION_MAX_AGE, CsrfError, Guard

logger = logging.getLogger("stowflow.server")
STATIC_DIR = Path(__file__).parent / "static"


def _status_of(exc: StowflowError) -> int:
    if isinstance(exc, CsrfError):
        return 403
    if isinstance(exc, NotFoundError) or type(exc).__name__.endswith("NotFoundError"):
        return 404
    if isinstance(exc, BlockAlreadyExistsError | BlockInUseError | DeploymentPausedError):
        return 409
    return 400


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str, hint: str | None = None,
           extra: dict[str, Any] | None = None) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message, "hint": hint, **(extra or {})}, status)
    from stowflow.server.templating import render

    return render(request, "error.html", {"status": status, "message": message, "hint": hint},
                  status_code=status)


async def _stowflow_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StowflowError)
    return _error(request, _status_of(exc), exc.message, exc.hint)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return _error(request, exc.status_code, str(exc.detail))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # FastAPI's default answer quotes the input back, and a request body may hold a secret.
    problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
    text = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems)
    return _error(request, 422, f"invalid request: {text}", extra={"problems": problems})


async def _block_invalid(request: Request, exc: Exception) -> Response:
    from stowflow.server.api_blocks import BlockInvalid, invalid_response

    assert isinstance(exc, BlockInvalid)
    return invalid_response(exc)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error(request, 500, "internal error (the server log has the details)")


class _Contain:
    """ASGI middleware that answers an unexpected error inside the app: Starlette's outermost
    handler of ``Exception`` re-raises after answering, and uvicorn then logs the traceback a
    second time and closes the connection (the client's next request on it is reset)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Run the request; an error before the answer started becomes the 500 answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:  # every expected error has its handler inside the routes
            if started:
                raise
            response = await _unexpected(Request(scope, receive), exc)
            await response(scope, receive, send)


class _Pages:
    """The UI's pages (:data:`stowflow.server.pages.ROUTERS`), imported and routed by the
    first request no API route or static file took.

    The page modules (their FastAPI routes, the run and block libraries they use) cost start-up
    time the first ``/api/health`` does not need; none of them is in the OpenAPI document.
    Mounted last at ``""``, this sees only what the app's own routes did not match, with the
    app's middleware, guard and error handlers around it as for any route; a path no page
    has is a 404 from the same handler.
    """

    def __init__(self) -> None:
        self._router: Any = None
        self._lock = threading.Lock()

    def router(self) -> Any:
        """Return the pages' router, built on first use."""
        with self._lock:
            if self._router is None:
                from fastapi import APIRouter

                from stowflow.server import pages

                router = APIRouter()
                for child in pages.ROUTERS:
                    router.include_router(child)
                self._router = router
            return self._router

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Route an ASGI request to a page."""
        router = self._router or self.router()
        await router(scope, receive, send)


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """Return the server application for ``config`` (default: 127.0.0.1:4300, no token)."""
    from stowflow import __version__
    from stowflow.server import api, api_blocks

    config = config or ServerConfig()
    app = FastAPI(title="stowflow", version=__version__, openapi_url="/api/openapi.json",
                  docs_url=None, redoc_url=None,
                  description="The stowflow HTTP API: blocks, deployments, flow runs, work "
                  "pools and variables, over the same database as the CLI and workers.")
    app.state.config = config
    app.state.guard = guard = Guard(config)
    app.include_router(api.router)
    app.include_router(api_blocks.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("", _Pages(), name="pages")  # last: whatever the routes above did not take
    app.add_exception_handler(StowflowError, _stowflow_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(api_blocks.BlockInvalid, _block_invalid)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(_Contain)  # inside the guard: the 500 gets its headers too
    app.middleware("http")(guard.middleware)
    # Added last, so it runs first: the guard reads the session.
    app.add_middleware(SessionMiddleware, secret_key=secrets.token_urlsafe(32),
                       session_cookie=SESSION_COOKIE, max_age=SESSION_MAX_AGE,
                       same_site="strict", https_only=False)
    return app
