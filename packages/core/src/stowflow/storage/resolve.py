"""``resolve(source)``: turn whatever a user passes as ``source=`` into a :class:`Storage`."""

from __future__ import annotations

import os
from typing import Any

from stowflow.errors import StorageError, UnsupportedURLError
from stowflow.storage.base import Storage
from stowflow.transfer.schemes import scheme_of


def resolve(source: Any, **options: Any) -> Storage:
    """Return the :class:`Storage` for ``source``.

    - a :class:`Storage` is returned as it is;
    - a :class:`~stowflow.storage.StorageBlock` becomes a
      :class:`~stowflow.storage.block.BlockStorage`;
    - a path or URL is offered to the ``stowflow_storage_for_url`` plugins (core claims
      local paths, ``file://``, git URLs, and object-store URLs that a
      ``stowflow_object_store_for_url`` plugin understands).

    ``options`` are passed to the plugin (credentials, client settings). An unknown URL
    scheme raises :class:`UnsupportedURLError` naming the distribution to install.
    """
    from stowflow.storage.storage_block import StorageBlock

    if isinstance(source, StorageBlock):
        from stowflow.storage.block import BlockStorage

        return BlockStorage(source)
    if isinstance(source, Storage):
        return source
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str) or not source.strip():
        raise StorageError(
            f"cannot use {type(source).__name__} {source!r} as a code source",
            hint="pass a path, a URL (git, s3://, gs://, az://), a Storage or a storage block",
        )
    from stowflow.plugins import get_plugin_manager

    storage = get_plugin_manager().hook.stowflow_storage_for_url(url=source, options=dict(options))
    if storage is not None:
        return storage
    scheme = scheme_of(source)
    if scheme:
        from stowflow.plugins import install_hints

        dist = install_hints().get(scheme)
        if dist:
            raise UnsupportedURLError(
                f"no installed storage understands '{scheme}://' URLs ({source})",
                hint=f"install {dist}: pip install {dist}",
            )
        raise UnsupportedURLError(
            f"no installed storage understands '{scheme}://' URLs ({source})",
            hint="'stowflow plugins' lists the installed storage plugins",
        )
    raise StorageError(f"code source '{source}' does not exist", hint="check the path")
