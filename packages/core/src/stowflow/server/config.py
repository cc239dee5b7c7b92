"""How the server is started: the address it binds and the token that guards it.

The bind rule: on a loopback address (127.0.0.0/8, ``::1``, ``localhost``) the UI needs no
login; any other address requires a token, and the server refuses to start without one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pydantic import SecretStr

from stowflow.errors import ConfigError
from stowflow.redact import register_secret

#: A token shorter than this is refused: it would be guessable.
MIN_TOKEN_LENGTH = 16


def is_loopback(host: str) -> bool:
    """Return whether ``host`` (an address or ``localhost``) only accepts local connections."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerConfig:
    """The server's address and its optional access token (``None``: no login)."""

    host: str = "127.0.0.1"
    port: int = 4300
    token: SecretStr | None = None

    def __post_init__(self) -> None:
        if self.token is not None:
            value = self.token.get_secret_value()
            if len(value) < MIN_TOKEN_LENGTH:  # the message never quotes it
                raise ConfigError(
                    f"the server token is too short (under {MIN_TOKEN_LENGTH} characters)",
                    hint="generate one with: python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'",
                )
            # Registered once accepted: a refused "short" would mask the word in the message.
            register_secret(value)
        elif not is_loopback(self.host):
            raise ConfigError(
                f"binding {self.host} would let other machines use the UI without a login",
                hint="give a token with --auth-token or STOWFLOW_SERVER_TOKEN, or bind "
                "127.0.0.1",
            )
        if not 0 < self.port < 65536:
            raise ConfigError(f"invalid port {self.port}", hint="use 1-65535")

    @property
    def local_only(self) -> bool:
        """Whether the server listens on a loopback address only."""
        return is_loopback(self.host)
