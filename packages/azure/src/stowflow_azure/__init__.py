"""stowflow-azure: Azure Blob Storage code storage and Azure credentials for stowflow.

Blocks: :class:`AzureBlobCredentials` and :class:`AzureBlobStorage`; the sync engine's
store for ``az://`` and ``abfs://`` URLs: :class:`AzureBlobObjectStore`; deployment steps in
:mod:`stowflow_azure.deployments.steps` (``push_to_azure_blob_storage``,
``pull_from_azure_blob_storage``).

Names are imported on first use, so loading the plugin does not import the Azure SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stowflow_azure.credentials import AzureBlobCredentials
    from stowflow_azure.storage import AzureBlobObjectStore, AzureBlobStorage

_LAZY = {
    "AzureBlobCredentials": "stowflow_azure.credentials",
    "AzureBlobStorage": "stowflow_azure.storage",
    "AzureBlobObjectStore": "stowflow_azure.storage",
}

__all__ = ["AzureBlobCredentials", "AzureBlobObjectStore", "AzureBlobStorage"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stowflow_azure' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
