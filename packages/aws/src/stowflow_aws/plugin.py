"""Hook implementations of the stowflow-aws plugin (registered through the `stowflow` entry point).

Only hook functions live here, and boto3 is imported only when a hook needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stowflow import hookimpl
from stowflow.deployments.recipes import object_store_recipe

if TYPE_CHECKING:
    from stowflow.transfer import ObjectStore

#: The distribution the scheme table (stowflow.transfer.schemes) names for this store.
DISTRIBUTION = "stowflow-aws"

RECIPE = object_store_recipe(
    service="S3 (or an S3-compatible store)",
    push_step="stowflow_aws.deployments.steps.push_to_s3",
    pull_step="stowflow_aws.deployments.steps.pull_from_s3",
    place="bucket", credentials_slug="aws-credentials")


@hookimpl
def stowflow_register_block_types(register: Callable[[type[Any]], None]) -> None:
    """Register ``AwsCredentials`` and ``S3Bucket``."""
    from stowflow_aws.credentials import AwsCredentials
    from stowflow_aws.storage import S3Bucket

    register(AwsCredentials)
    register(S3Bucket)


@hookimpl
def stowflow_register_steps(register: Callable[[Callable[..., Any]], None]) -> None:
    """Register ``push_to_s3`` and ``pull_from_s3``."""
    from stowflow_aws.deployments.steps import pull_from_s3, push_to_s3

    register(push_to_s3)
    register(pull_from_s3)


@hookimpl
def stowflow_register_recipes(register: Callable[[str, str, str], None]) -> None:
    """Register the ``s3`` recipe of ``stowflow init``."""
    register("s3", "push code to an S3 bucket (or an S3-compatible store), pull it on the worker",
             RECIPE)


@hookimpl
def stowflow_object_store_for_url(url: str, options: dict[str, Any]) -> ObjectStore | None:
    """Claim the schemes the scheme table gives stowflow-aws (``s3://``, ``s3a://``).

    ``options`` may carry ``credentials`` (an ``AwsCredentials`` block or a dict of its
    fields), ``client_parameters`` / ``endpoint_url``, ``max_concurrency``, and the
    s3fs-style ``key``/``secret``/``token``/``profile``/``anon``/``client_kwargs``;
    without credentials the ambient AWS chain is used. Other options are refused.
    """
    from stowflow.transfer.schemes import owned_by

    if not owned_by(url, DISTRIBUTION):
        return None
    from stowflow_aws.storage import store_for_url

    return store_for_url(url, options)
