"""Hook implementations of the stowflow-gitlab plugin (registered through the `stowflow` entry point)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stowflow import hookimpl

if TYPE_CHECKING:
    from stowflow.git.auth import GitAuth


@hookimpl
def stowflow_register_block_types(register: Callable[[type], None]) -> None:
    """Register GitLabCredentials and GitLabRepository."""
    from stowflow_gitlab._git_auth import GITLAB

    GITLAB.register_block_types(register)


@hookimpl
def stowflow_git_auth(url: str, credentials: Any) -> GitAuth | None:
    """Claim GitLab credentials blocks, and bare tokens for GitLab's hosts."""
    from stowflow_gitlab._git_auth import git_auth

    return git_auth(url, credentials)
