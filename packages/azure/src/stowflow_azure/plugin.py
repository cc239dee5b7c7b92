"""Hook implementations of the stowflow-azure plugin (registered through the `stowflow` entry point).

Only hook functions live here, and the Azure SDK is imported only when a hook needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stowflow import hookimpl
from stowflow.deployments.recipes import object_store_recipe

if TYPE_CHECKING:
    from stowflow.transfer import ObjectStore

#: The distribution the scheme table (stowflow.transfer.schemes) names for this store.
DISTRIBUTION = "stowflow-azure"

RECIPE = object_store_recipe(
    service="Azure Blob Storage",
    push_step="stowflow_azure.deployments.steps.push_to_azure_blob_storage",
    pull_step="stowflow_azure.deployments.steps.pull_from_azure_blob_storage",
    place="container", credentials_slug="azure-blob-credentials")


@hookimpl
def stowflow_register_block_types(register: Callable[[type[Any]], None]) -> None:
    """Register ``AzureBlobCredentials`` and ``AzureBlobStorage``."""
    from stowflow_azure.credentials import AzureBlobCredentials
    from stowflow_azure.storage import AzureBlobStorage

    register(AzureBlobCredentials)
    register(AzureBlobStorage)


@hookimpl
def stowflow_register_steps(register: Callable[[Callable[..., Any]], None]) -> None:
    """Register ``push_to_azure_blob_storage`` and ``pull_from_azure_blob_storage``."""
    from stowflow_azure.deployments.steps import (
        pull_from_azure_blob_storage,
        push_to_azure_blob_storage,
    )

    register(push_to_azure_blob_storage)
    register(pull_from_azure_blob_storage)


@hookimpl
def stowflow_register_recipes(register: Callable[[str, str, str], None]) -> None:
    """Register the ``azure`` recipe of ``stowflow init``."""
    register("azure", "push code to an Azure Blob Storage container, pull it on the worker",
             RECIPE)


@hookimpl
def stowflow_object_store_for_url(url: str, options: dict[str, Any]) -> ObjectStore | None:
    """Claim the schemes the scheme table gives stowflow-azure (``az://``, ``abfs[s]://``).

    ``options`` may carry ``credentials`` (an ``AzureBlobCredentials`` block or a dict of
    its fields) or those fields directly, and client settings (``max_concurrency``,
    timeouts, transfer sizes); without credentials the environment's are used. Other
    options are refused.
    """
    from stowflow.transfer.schemes import owned_by

    if not owned_by(url, DISTRIBUTION):
        return None
    from stowflow_azure.storage import store_for_url

    return store_for_url(url, options)
