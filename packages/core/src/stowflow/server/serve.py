"""Run the server in this process with uvicorn until it is stopped."""

from __future__ import annotations

import gc
import socket

from stowflow.errors import ConfigError
from stowflow.server.app import create_app
from stowflow.server.config import ServerConfig
from stowflow.server.logs import log_config


def serve(config: ServerConfig, *, log_level: str = "info", banner: bool = False) -> None:
    """Serve the UI and API on ``config.host:config.port`` (blocks until Ctrl-C / SIGTERM);
    with ``banner``, first print where (once the address is free and the database ready).

    Raises :class:`ConfigError` when that address cannot be listened on.
    """
    import uvicorn

    check_listenable(config.host, config.port)
    from stowflow.db import get_engine

    get_engine()  # create or migrate the database before the first request, not during it
    app = create_app(config)
    if banner:  # once it can serve: a database error ends it before any "server on" line
        login = "token required" if config.token else "no login (loopback only)"
        # Plain print, not the Rich console: Rich costs ~30 ms of start-up, and this line
        # holds no secret (the token is never printed) and no markup.
        print(f"stowflow server on http://{_address(config.host, config.port)}/ ({login}); "
              "API at /api/", flush=True)
    # The ~130,000 objects of the imported stack never die; frozen, the collector stops
    # walking them on every full collection (each one was a 100+ ms pause of some request).
    # No gc.collect() first: it found nothing to free and cost 60 ms of start-up. Enabled
    # here in case the caller disabled it for the start-up (``server start`` does).
    gc.freeze()
    gc.enable()
    uvicorn.run(app, host=config.host, port=config.port,
                log_config=log_config(log_level.upper()), log_level=log_level,
                proxy_headers=False, server_header=False)


def check_listenable(host: str, port: int) -> None:
    """Raise :class:`ConfigError` when ``host:port`` cannot be listened on (a port another
    process holds, an address that is not this machine's): uvicorn would log the OSError
    and exit 3 after the start-up banner, not say it in one line. Binds and closes a probe
    socket with uvicorn's options (``SO_REUSEADDR``: a port in TIME_WAIT is free)."""
    where = _address(host, port)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {where}: {exc.strerror}",
                          hint="--host takes an address or a name of this machine") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise ConfigError(f"cannot listen on {where}: {reason}",
                              hint="stop what listens there, or choose another --port"
                              if exc.errno == 98 else "--host takes an address of this "
                              "machine") from None


def _address(host: str, port: int) -> str:
    """``host:port`` as written in a URL (an IPv6 address in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
