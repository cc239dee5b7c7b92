"""Hook implementations of the stowflow-gcp plugin (registered through the `stowflow` entry point).

Only hook functions live here, and the Google SDK is imported only when a hook needs it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stowflow import hookimpl
from stowflow.deployments.recipes import object_store_recipe

if TYPE_CHECKING:
    from stowflow.transfer import ObjectStore

#: The distribution the scheme table (stowflow.transfer.schemes) names for this store.
DISTRIBUTION = "stowflow-gcp"
#: Options of ``stowflow_object_store_for_url`` passed on to ``GcsObjectStore``.
_STORE_OPTIONS = ("project", "max_concurrency", "page_size", "chunk_size",
                  "resumable_threshold", "sliced_download_threshold", "download_workers",
                  "timeout")

RECIPE = object_store_recipe(
    service="Google Cloud Storage",
    push_step="stowflow_gcp.deployments.steps.push_to_gcs",
    pull_step="stowflow_gcp.deployments.steps.pull_from_gcs",
    place="bucket", credentials_slug="gcp-credentials")


@hookimpl
def stowflow_register_block_types(register: Callable[[type[Any]], None]) -> None:
    """Register ``GcpCredentials`` and ``GcsBucket``."""
    from stowflow_gcp.credentials import GcpCredentials
    from stowflow_gcp.storage import GcsBucket

    register(GcpCredentials)
    register(GcsBucket)


@hookimpl
def stowflow_register_steps(register: Callable[[Callable[..., Any]], None]) -> None:
    """Register ``push_to_gcs`` and ``pull_from_gcs``."""
    from stowflow_gcp.deployments.steps import pull_from_gcs, push_to_gcs

    register(push_to_gcs)
    register(pull_from_gcs)


@hookimpl
def stowflow_register_recipes(register: Callable[[str, str, str], None]) -> None:
    """Register the ``gcs`` recipe of ``stowflow init``."""
    register("gcs", "push code to a Google Cloud Storage bucket, pull it on the worker", RECIPE)


@hookimpl
def stowflow_object_store_for_url(url: str, options: dict[str, Any]) -> ObjectStore | None:
    """Claim the schemes the scheme table gives stowflow-gcp (``gs://``, ``gcs://``).

    ``options`` may carry ``credentials`` (a ``GcpCredentials`` block or a dict of its
    fields) and the store's settings (``project``, ``max_concurrency``, ``page_size``,
    ``chunk_size``, ``resumable_threshold``, ``sliced_download_threshold``,
    ``download_workers``, ``timeout``); other options are refused.
    """
    from stowflow.transfer.schemes import owned_by

    if not owned_by(url, DISTRIBUTION):
        return None
    parsed = urllib.parse.urlsplit(url)
    from stowflow.errors import ConfigError

    from stowflow_gcp.credentials import GcpCredentials
    from stowflow_gcp.storage import GcsObjectStore

    unknown = sorted(set(options) - {"credentials", *_STORE_OPTIONS})
    if unknown:
        raise ConfigError(f"unknown option(s) for {parsed.scheme}:// storage: {', '.join(unknown)}",
                          hint=f"known: credentials, {', '.join(_STORE_OPTIONS)}")
    settings = {k: v for k, v in options.items() if k in _STORE_OPTIONS}
    return GcsObjectStore(parsed.netloc, GcpCredentials.coerce(options.get("credentials")),
                          **settings)
