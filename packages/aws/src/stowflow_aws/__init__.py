"""stowflow-aws: S3 code storage and AWS credentials for stowflow.

Public names: :class:`AwsCredentials` (with :class:`AwsClientParameters` and
:class:`AwsRetries`), :class:`S3Bucket` (the storage block) and :class:`S3ObjectStore`
(the sync engine's S3 store). They are imported on first use, so loading the plugin does
not import boto3.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stowflow_aws.credentials import AwsClientParameters, AwsCredentials, AwsRetries
    from stowflow_aws.storage import S3Bucket, S3ObjectStore

_LAZY = {
    "AwsClientParameters": "stowflow_aws.credentials",
    "AwsCredentials": "stowflow_aws.credentials",
    "AwsRetries": "stowflow_aws.credentials",
    "S3Bucket": "stowflow_aws.storage",
    "S3ObjectStore": "stowflow_aws.storage",
}

__all__ = ["AwsClientParameters", "AwsCredentials", "AwsRetries", "S3Bucket", "S3ObjectStore"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stowflow_aws' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
