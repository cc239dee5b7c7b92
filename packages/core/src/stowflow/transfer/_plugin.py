"""Core's built-in hook implementations for the transfer area.

The URL hooks are fallbacks (``trylast``): a provider plugin that claims a scheme wins.
"""

from __future__ import annotations

from typing import Any

from stowflow.plugins import hookimpl


@hookimpl
def stowflow_install_hints() -> dict[str, str]:
    """Name the distribution of every known URL scheme (the scheme table)."""
    from stowflow.transfer.schemes import scheme_hints

    return scheme_hints()


@hookimpl(trylast=True)
def stowflow_object_store_for_url(url: str, options: dict[str, Any]) -> Any:
    """Wrap any fsspec filesystem (``memory://``, ``file://``, ...) as an ObjectStore."""
    from stowflow.transfer.schemes import NOT_OBJECT_STORES, scheme_of

    scheme = scheme_of(url)
    if not scheme or scheme in NOT_OBJECT_STORES:
        return None
    from stowflow.transfer.fsspec_store import store_for_url

    return store_for_url(url, options)


@hookimpl(trylast=True)
def stowflow_storage_for_url(url: str, options: dict[str, Any]) -> Any:
    """Claim ``scheme://`` URLs that some object store understands, as ``RemoteStorage``.

    Decided from the scheme table and fsspec's registry (:func:`schemes.is_claimed`), so no
    client is built just to ask. Never git or web URLs, ``git@host:`` remotes, ``file://``
    URLs or local paths — the storage area handles those.
    """
    from stowflow.transfer.schemes import is_claimed, scheme_of

    if scheme_of(url) in ("file", "local") or not is_claimed(url):
        return None
    from stowflow.storage.remote import RemoteStorage

    return RemoteStorage(url, **options)
