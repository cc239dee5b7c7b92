"""Run the server in this process with uvicorn until it is stopped."""

from __future__ import annotations

import gc

from stowflow.server.app import create_app
from stowflow.server.config import ServerConfig
from stowflow.server.logs import log_config


def serve(config: ServerConfig, *, log_level: str = "info") -> None:
    """Serve the UI and API on ``config.host:config.port`` (blocks until Ctrl-C / SIGTERM)."""
    import uvicorn

    from stowflow.db import get_engine

    get_engine()  # create or migrate the database before the first request, not during it
    app = create_app(config)
    # The ~130,000 objects of the imported stack never die; frozen, the collector stops
    # walking them on every full collection (each one was a 100+ ms pause of some request).
    # No gc.collect() first: it found nothing to free and cost 60 ms of start-up.
    gc.freeze()
    uvicorn.run(app, host=config.host, port=config.port,
                log_config=log_config(log_level.upper()), log_level=log_level,
                proxy_headers=False, server_header=False)
