"""Translation of the Docker SDK's failures into stowflow's image errors (one place).

Every call into the SDK goes through :func:`translated`, so a refused login, a missing image,
a failed build and an unreachable daemon each reach the user as one clear
:class:`~stowflow.errors.ImageError` subclass with the cause chained. Messages pass through
the shared redactor (``StowflowError`` does it), so a registry password never leaves in one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from stowflow.errors import (
    DaemonUnreachableError,
    ImageError,
    ImageNotFoundError,
    RegistryAuthError,
    StowflowError,
)

AUTH_WORDS = ("unauthorized", "authentication required", "denied", "incorrect username",
              "no basic auth credentials", "401")


def daemon_hint() -> str:
    """Say how to reach a daemon: which one was tried and how to name another."""
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return (f"tried {host}; start Docker (e.g. 'sudo systemctl start docker' or 'sudo dockerd &') "
            "or point DOCKER_HOST at a reachable daemon (tcp://host:2376 with DOCKER_TLS_VERIFY=1 "
            "and DOCKER_CERT_PATH for a remote one)")


def _text(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    return " ".join(str(explanation or exc).split())


def is_auth_failure(text: str) -> bool:
    """Return whether a registry or daemon message means the credentials were refused."""
    lowered = text.lower()
    return any(word in lowered for word in AUTH_WORDS)


def _tls_failure(exc: BaseException, ssl_error: type[BaseException]) -> bool:
    """Whether ``exc`` (or what it wraps: the SDK re-raises a failed version check) is a
    failed TLS handshake."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            break
        if isinstance(seen, ssl_error):
            return True
        seen = seen.__cause__ or seen.__context__
    return "SSLError(" in str(exc)


def translate(exc: BaseException, action: str, image: str | None = None) -> StowflowError:
    """Return the stowflow error for an SDK failure of ``action`` on ``image``."""
    import docker.errors
    import requests.exceptions

    where = f"{action} {image}" if image else action
    if isinstance(exc, StowflowError):
        return exc
    if _tls_failure(exc, requests.exceptions.SSLError):
        return DaemonUnreachableError(
            f"{where}: the TLS handshake with the Docker daemon failed",
            hint="check DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem signed by the daemon's "
                 "CA), DOCKER_TLS_VERIFY=1 and that DOCKER_HOST names the daemon's TLS port")
    if isinstance(exc, (requests.exceptions.ConnectionError, ConnectionError,
                        FileNotFoundError)) or (
            isinstance(exc, docker.errors.DockerException)
            and "Error while fetching server API version" in str(exc)):
        return DaemonUnreachableError(f"{where}: no Docker daemon answered", hint=daemon_hint())
    text = _text(exc)
    if isinstance(exc, docker.errors.ImageNotFound) or (
            isinstance(exc, docker.errors.NotFound) and image is not None
            and "manifest unknown" in text.lower()):
        return ImageNotFoundError(f"{where}: image not found: {text}",
                                  hint="check the image name and tag, and that it was pushed")
    if is_auth_failure(text):
        return RegistryAuthError(f"{where}: the registry refused the credentials: {text}",
                                 hint="check the DockerRegistryCredentials block "
                                      "(username, password, registry_url)")
    if isinstance(exc, requests.exceptions.Timeout):
        return DaemonUnreachableError(f"{where}: the Docker daemon did not answer in time",
                                      hint=daemon_hint())
    return ImageError(f"{where} failed: {text}")


@contextlib.contextmanager
def translated(action: str, image: str | None = None) -> Iterator[None]:
    """Run the block, turning SDK errors into stowflow errors (cause chained)."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.RequestException,
            ConnectionError) as exc:
        raise translate(exc, action, image) from exc
