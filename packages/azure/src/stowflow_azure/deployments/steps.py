"""``push_to_azure_blob_storage`` and ``pull_from_azure_blob_storage``: steps over core's sync engine.

Thin wrappers: they build an :class:`~stowflow_azure.storage.AzureBlobObjectStore` and call
:func:`stowflow.transfer.push` / :func:`stowflow.transfer.pull`; nothing is re-implemented.
``credentials`` arrive as an ``AzureBlobCredentials`` block, as its data dict (what a
``{{ stowflow.blocks.azure-blob-credentials.NAME }}`` placeholder resolves to at run time),
or as ``None`` (``AZURE_STORAGE_CONNECTION_STRING`` / ``AZURE_STORAGE_ACCOUNT_URL``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stowflow import transfer

from stowflow_azure.credentials import AzureBlobCredentials


def push_to_azure_blob_storage(
    container: str, folder: str,
    credentials: AzureBlobCredentials | dict[str, Any] | None = None,
    ignore_file: str | None = ".stowflowignore",
) -> dict[str, Any]:
    """Push the current directory to ``az://container/folder`` as a new version.

    Files matched by ``ignore_file`` (gitignore syntax) stay behind; only objects the
    container lacks are uploaded. Returns ``{container, folder, version}``.
    """
    from stowflow_azure.storage import AzureBlobObjectStore

    with AzureBlobObjectStore(container, AzureBlobCredentials.coerce(credentials)) as store:
        result = transfer.push(Path.cwd(), store, folder, ignore_file=ignore_file)
    return {"container": container, "folder": folder, "version": result.version}


def pull_from_azure_blob_storage(
    container: str, folder: str,
    credentials: AzureBlobCredentials | dict[str, Any] | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """Pull ``az://container/folder`` into a folder of the current directory (the engine's choice);
    ``version`` pins a stored version (a retry on the exact code), else the latest.

    Returns ``{container, folder, directory, version}``.
    """
    from stowflow_azure.storage import AzureBlobObjectStore

    with AzureBlobObjectStore(container, AzureBlobCredentials.coerce(credentials)) as store:
        result = transfer.pull(store, folder, dest=None, version=version)
    return {"container": container, "folder": folder, "directory": str(result.directory),
            "version": result.version}
