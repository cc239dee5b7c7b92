"""Hook implementations of the stowflow-azure plugin (registered through the `stowflow` entry point).

Only hook functions live here, and the Azure SDK is imported only when a hook needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stowflow import hookimpl

if TYPE_CHECKING:
    from stowflow.transfer import ObjectStore

#: The distribution the scheme table (stowflow.transfer.schemes) names for this store.
DISTRIBUTION = "stowflow-azure"

RECIPE = """\
# stowflow.yaml for {project_name}: code is pushed to Azure Blob Storage on deploy
# and pulled from it by the worker before each run.
build: null
push:
- stowflow_azure.deployments.steps.push_to_azure_blob_storage:
    id: push_code
    requires: stowflow-azure>=0.1
    container: my-container
    folder: {project_name}
    credentials: "{{{{ stowflow.blocks.azure-blob-credentials.my-creds }}}}"
pull:
- stowflow_azure.deployments.steps.pull_from_azure_blob_storage:
    id: pull_code
    requires: stowflow-azure>=0.1
    container: "{{{{ push_code.container }}}}"
    folder: "{{{{ push_code.folder }}}}"
    credentials: "{{{{ stowflow.blocks.azure-blob-credentials.my-creds }}}}"
"""


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
