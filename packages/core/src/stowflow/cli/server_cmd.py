"""``stowflow server start``: the web UI and HTTP API over the same database."""

from __future__ import annotations

import typer

from stowflow.errors import ConfigError, MissingDistributionError

server_app = typer.Typer(help="Run the web UI and HTTP API.", no_args_is_help=True)


@server_app.command("start")
def start_cmd(
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to bind. Anything but a loopback address "
                             "needs a token."),
    port: int = typer.Option(4300, "--port", help="TCP port to listen on."),
    auth_token: str | None = typer.Option(
        None, "--auth-token", envvar="STOWFLOW_SERVER_TOKEN", show_envvar=True,
        help="Token for the login page and 'Authorization: Bearer' (16+ characters). "
        "Prefer the environment variable: argv is visible to other users."),
    log_level: str = typer.Option("info", "--log-level",
                                  help="uvicorn log level: critical, error, warning, info, debug."),
) -> None:
    """Serve the UI at http://HOST:PORT/ and the JSON API at /api/ (OpenAPI:
    /api/openapi.json, health: /api/health), over the database the CLI and workers use.

    Bound to 127.0.0.1 (the default) the UI needs no login; binding any other address
    requires --auth-token / STOWFLOW_SERVER_TOKEN and then every browser logs in and every
    API client sends 'Authorization: Bearer TOKEN'.
    """
    import gc

    from pydantic import SecretStr

    # Start-up only imports and builds objects that live as long as the process: the
    # collector's passes over them (~0.05 s) free nothing. serve() freezes them and turns it
    # back on before the first request; the finally covers every way out before that.
    gc.disable()
    try:
        try:
            from stowflow.server import ServerConfig, serve
        except ImportError as exc:
            raise MissingDistributionError("stowflow server", "stowflow[server]") from exc
        if log_level.lower() not in ("critical", "error", "warning", "info", "debug"):
            raise ConfigError(f"unknown --log-level {log_level!r}",
                              hint="use critical, error, warning, info or debug")
        config = ServerConfig(host=host, port=port,
                              token=SecretStr(auth_token) if auth_token else None)
        serve(config, log_level=log_level.lower(), banner=True)
    finally:
        gc.enable()


def register(app: typer.Typer) -> None:
    """Add ``stowflow server``."""
    app.add_typer(server_app, name="server")
