"""Hook implementations of the stowflow-bitbucket plugin (registered through the `stowflow` entry point)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stowflow import hookimpl

if TYPE_CHECKING:
    from stowflow.git.auth import GitAuth


@hookimpl
def stowflow_register_block_types(register: Callable[[type], None]) -> None:
    """Register BitBucketCredentials and BitBucketRepository."""
    from stowflow_bitbucket._git_auth import BITBUCKET

    BITBUCKET.register_block_types(register)


@hookimpl
def stowflow_git_auth(url: str, credentials: Any) -> GitAuth | None:
    """Claim Bitbucket credentials blocks, and bare tokens for Bitbucket's hosts."""
    from stowflow_bitbucket._git_auth import git_auth

    return git_auth(url, credentials)
