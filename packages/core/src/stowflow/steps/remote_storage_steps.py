"""Core steps over the sync engine: ``push_to_remote_storage`` and ``pull_from_remote_storage``.

Addressed in ``stowflow.yaml`` as ``stowflow.deployments.steps.<name>``. ``url`` is any
URL an object-store plugin claims (``s3://bucket/folder`` with stowflow-aws, any fsspec
URL otherwise); the other settings go to that plugin (credentials arrive resolved from
``{{ stowflow.blocks... }}`` placeholders at run time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stowflow import transfer


def push_to_remote_storage(url: str, ignore_file: str | None = ".stowflowignore",
                           layout: str = "packed", **settings: Any) -> dict[str, Any]:
    """Push the current directory to ``url`` as a new version.

    Returns ``{"url": url, "version": <version id>}``.
    """
    store, prefix = transfer.open_store(url, settings)
    with store:
        result = transfer.push(Path.cwd(), store, prefix, layout=layout, ignore_file=ignore_file)
    return {"url": url, "version": result.version}


def pull_from_remote_storage(url: str, version: str | None = None,
                             **settings: Any) -> dict[str, Any]:
    """Pull the latest version at ``url`` (or ``version``) into ``cwd/<last part of url>``.

    Returns ``{"url": url, "directory": <folder>, "version": <version id or None>}``.
    """
    store, prefix = transfer.open_store(url, settings)
    with store:
        result = transfer.pull(store, prefix, version=version)
    return {"url": url, "directory": str(result.directory), "version": result.version}
