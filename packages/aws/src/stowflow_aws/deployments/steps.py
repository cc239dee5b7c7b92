"""``push_to_s3`` and ``pull_from_s3``: deployment steps over core's sync engine.

Thin wrappers: they build an :class:`~stowflow_aws.storage.S3ObjectStore` and call
:func:`stowflow.transfer.push` / :func:`stowflow.transfer.pull`; nothing is re-implemented.
``credentials`` arrive as an ``AwsCredentials`` block, as its data dict (what a
``{{ stowflow.blocks.aws-credentials.NAME }}`` placeholder resolves to at run time), or as
``None`` (the ambient AWS chain). ``client_parameters`` (``endpoint_url``, ``verify``,
``addressing_style``, ``retries``) refine the block's own, field by field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stowflow import transfer

from stowflow_aws.credentials import AwsClientParameters, AwsCredentials


def push_to_s3(
    bucket: str, folder: str,
    credentials: AwsCredentials | dict[str, Any] | None = None,
    client_parameters: AwsClientParameters | dict[str, Any] | None = None,
    ignore_file: str | None = ".stowflowignore",
) -> dict[str, Any]:
    """Push the current directory to ``s3://bucket/folder`` as a new version.

    Files matched by ``ignore_file`` (gitignore syntax) stay behind; only objects the
    bucket lacks are uploaded. Returns ``{bucket, folder, version}``.
    """
    from stowflow_aws.storage import S3ObjectStore

    with S3ObjectStore(bucket, credentials=credentials,
                       client_parameters=client_parameters) as store:
        result = transfer.push(Path.cwd(), store, folder, ignore_file=ignore_file)
    return {"bucket": bucket, "folder": folder, "version": result.version}


def pull_from_s3(
    bucket: str, folder: str,
    credentials: AwsCredentials | dict[str, Any] | None = None,
    client_parameters: AwsClientParameters | dict[str, Any] | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """Pull ``s3://bucket/folder`` into a folder of the current directory (the engine's choice);
    ``version`` pins a stored version (a retry on the exact code), else the latest.

    Returns ``{bucket, folder, directory, version}``.
    """
    from stowflow_aws.storage import S3ObjectStore

    with S3ObjectStore(bucket, credentials=credentials,
                       client_parameters=client_parameters) as store:
        result = transfer.pull(store, folder, dest=None, version=version)
    return {"bucket": bucket, "folder": folder, "directory": str(result.directory),
            "version": result.version}
