"""``push_to_gcs`` and ``pull_from_gcs``: deployment steps over core's sync engine.

Thin wrappers: they build a :class:`~stowflow_gcp.storage.GcsObjectStore` and call
:func:`stowflow.transfer.push` / :func:`stowflow.transfer.pull`; nothing is re-implemented.
``credentials`` arrive as a ``GcpCredentials`` block, as its data dict (what a
``{{ stowflow.blocks.gcp-credentials.NAME }}`` placeholder resolves to at run time), or as
``None`` (Application Default Credentials).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stowflow import transfer

from stowflow_gcp.credentials import GcpCredentials


def push_to_gcs(bucket: str, folder: str, project: str | None = None,
                credentials: GcpCredentials | dict[str, Any] | None = None,
                ignore_file: str | None = ".stowflowignore") -> dict[str, Any]:
    """Push the current directory to ``gs://bucket/folder`` as a new version.

    Files matched by ``ignore_file`` (gitignore syntax) stay behind; only objects the
    bucket lacks are uploaded. Returns ``{bucket, folder, version}``.
    """
    from stowflow_gcp.storage import GcsObjectStore

    with GcsObjectStore(bucket, GcpCredentials.coerce(credentials), project=project) as store:
        result = transfer.push(Path.cwd(), store, folder, ignore_file=ignore_file)
    return {"bucket": bucket, "folder": folder, "version": result.version}


def pull_from_gcs(bucket: str, folder: str, project: str | None = None,
                  credentials: GcpCredentials | dict[str, Any] | None = None,
                  version: str | None = None) -> dict[str, Any]:
    """Pull ``gs://bucket/folder`` into a folder of the current directory (the engine's choice);
    ``version`` pins a stored version (a retry on the exact code), else the latest.

    Returns ``{bucket, folder, directory, version}``.
    """
    from stowflow_gcp.storage import GcsObjectStore

    with GcsObjectStore(bucket, GcpCredentials.coerce(credentials), project=project) as store:
        result = transfer.pull(store, folder, dest=None, version=version)
    return {"bucket": bucket, "folder": folder, "directory": str(result.directory),
            "version": result.version}
