"""The web UI and HTTP API (``stowflow server start``); needs ``pip install 'stowflow[server]'``.

``create_app(ServerConfig(...))`` returns the ASGI app; :func:`serve` runs it with uvicorn.
Nothing outside this package imports it, so workers and the CLI never load the web stack.
"""

from __future__ import annotations

from stowflow.server.app import create_app
from stowflow.server.config import ServerConfig
from stowflow.server.serve import serve

__all__ = ["ServerConfig", "create_app", "serve"]
