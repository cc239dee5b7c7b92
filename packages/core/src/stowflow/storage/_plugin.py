"""Core's built-in hook implementations for the storage area: local folders and file:// URLs."""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stowflow.plugins import hookimpl
from stowflow.transfer.schemes import scheme_of

if TYPE_CHECKING:
    from stowflow.storage.base import Storage


def local_path(url: str) -> Path | None:
    """Return the local folder ``url`` names (a plain path or ``file://``), else ``None``."""
    scheme = scheme_of(url)
    if scheme == "file":
        parts = urllib.parse.urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            return None
        return Path(urllib.request.url2pathname(parts.path))
    if scheme:
        return None
    return Path(url).expanduser()


@hookimpl(trylast=True)
def stowflow_storage_for_url(url: str, options: dict[str, Any]) -> Storage | None:
    """Claim local folders and ``file://`` URLs as a ``LocalStorage``."""
    path = local_path(url)
    if path is None or not path.is_dir():
        return None
    from stowflow.storage.local import LocalStorage

    storage: Storage = LocalStorage(path.resolve())
    return storage
