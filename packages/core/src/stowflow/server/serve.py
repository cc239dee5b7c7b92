"""Run the server in this process with uvicorn until it is stopped."""

from __future__ import annotations

from stowflow.server.app import create_app
from stowflow.server.config import ServerConfig
from stowflow.server.logs import log_config


def serve(config: ServerConfig, *, log_level: str = "info") -> None:
    """Serve the UI and API on ``config.host:config.port`` (blocks until Ctrl-C / SIGTERM)."""
    import uvicorn

    from stowflow.db import get_engine

    get_engine()  # create or migrate the database before the first request, not during it
    uvicorn.run(create_app(config), host=config.host, port=config.port,
                log_config=log_config(log_level.upper()), log_level=log_level,
                proxy_headers=False, server_header=False)
