"""From a URL to an ObjectStore and a prefix, through the plugins' object-store hook."""

from __future__ import annotations

import urllib.parse
from typing import Any

from stowflow.errors import ConfigError, UnsupportedURLError
from stowflow.redact import mask_url, register_secret
from stowflow.transfer.paths import normalize_prefix
from stowflow.transfer.schemes import NOT_OBJECT_STORES, scheme_of
from stowflow.transfer.store import ObjectStore

#: Option names whose values are credentials (matched as parts of the lowercased name).
SECRET_OPTION_WORDS = ("secret", "token", "password", "credential", "key", "sas", "signature")

__all__ = ["NOT_OBJECT_STORES", "display_url", "open_store", "refuse_url_credentials",
           "scheme_of", "split_url"]


def display_url(url: str) -> str:
    """Return ``url`` as written minus its secrets, for messages (:func:`redact.mask_url`)."""
    return mask_url(url)


def looks_secret(option_name: str) -> bool:
    """Return whether an option with this name carries a credential (``secret``, ``key``...)."""
    lowered = option_name.lower()
    return any(word in lowered for word in SECRET_OPTION_WORDS)


def register_option_secrets(options: dict[str, Any]) -> None:
    """Register every credential-like option value (nested dicts too) with the redactor."""
    for name, value in options.items():
        if isinstance(value, dict):
            register_option_secrets(value)
        elif isinstance(value, str) and looks_secret(str(name)):
            register_secret(value)


def refuse_url_credentials(url: str, what: str = "storage URL") -> None:
    """Raise a ConfigError when ``url`` carries ``user[:password]@``; mask it first.

    A URL is printed, logged and stored in deployments; credentials go in a block.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return
    if user is None and password is None:
        return
    # A lone user part is often a token (https://TOKEN@host); beside a password it is
    # a name, and masking a word like 'user' everywhere would garble messages.
    value = password if password else user
    if value:
        register_secret(value)
        register_secret(urllib.parse.unquote(value))
    raise ConfigError(
        f"refusing the {what} '{display_url(url)}': it holds credentials before '@'",
        hint="save a credentials block and pass it instead (--credentials SLUG/NAME, or "
        "'credentials' in the step), or use the provider's environment variables")


def _has_userinfo(url: str) -> bool:
    netloc = url.split("://", 1)[1].split("/", 1)[0] if "://" in url else ""
    return "@" in netloc


def _known_scheme(scheme: str, hints: dict[str, str]) -> bool:
    if scheme in hints:
        return True
    from fsspec.registry import known_implementations

    return scheme in known_implementations


def _refuse_option_credentials(options: dict[str, Any]) -> None:
    for name, value in options.items():
        if isinstance(value, dict):
            _refuse_option_credentials(value)
        elif isinstance(value, str) and "://" in value:
            refuse_url_credentials(value, what=f"option '{name}'")


def split_url(url: str) -> tuple[str, str]:
    """Split ``scheme://bucket/a/b`` into (``scheme://bucket``, ``a/b``).

    For ``file:///srv/code`` the bucket is empty and the prefix is ``srv/code``.
    """
    scheme = scheme_of(url)
    rest = url.split("://", 1)[1] if scheme else url
    bucket, _, path = rest.partition("/")
    return f"{scheme}://{bucket}", normalize_prefix(path)


def open_store(url: str, options: dict[str, Any] | None = None) -> tuple[ObjectStore, str]:
    """Return (an ObjectStore for the bucket of ``url``, the prefix inside it).

    The store comes from the first plugin whose ``stowflow_object_store_for_url`` claims
    the URL (core's fsspec fallback last). Raises ``UnsupportedURLError`` naming the
    distribution to install when nothing claims it, and ``ConfigError`` when the URL
    (or an option value that is a URL, e.g. ``endpoint_url``) holds ``user:password@``.
    """
    from stowflow.plugins import get_plugin_manager, install_hints

    scheme = scheme_of(url)
    _, prefix = split_url(url)
    register_option_secrets(dict(options or {}))
    _refuse_option_credentials(dict(options or {}))
    if _has_userinfo(url) and _known_scheme(scheme, install_hints()):
        refuse_url_credentials(url)  # before a client is built (it may fail on its own)
    store = None
    if scheme and scheme not in NOT_OBJECT_STORES:
        store = get_plugin_manager().hook.stowflow_object_store_for_url(
            url=url, options=dict(options or {}))
    if store is None:
        dist = install_hints().get(scheme)
        hint = f"pip install {dist}" if dist else "use scheme://bucket/prefix of an installed store"
        raise UnsupportedURLError(f"no installed object store understands '{display_url(url)}'",
                                  hint=hint)
    try:
        refuse_url_credentials(url)
    except ConfigError:
        store.close()
        raise
    return store, prefix
