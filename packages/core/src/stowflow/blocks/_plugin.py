"""Core's built-in block types, registered through the same hook plugins use."""

from __future__ import annotations

from collections.abc import Callable

from stowflow.plugins import hookimpl


@hookimpl
def stowflow_register_block_types(register: Callable[[type], None]) -> None:
    """Register the core ``Secret`` block."""
    from stowflow.blocks.secret import Secret

    register(Secret)


@hookimpl
def stowflow_install_hints() -> dict[str, str]:
    """Name the distribution of each official provider's block types and modules.

    URL schemes are in the scheme table (:mod:`stowflow.transfer.schemes`).
    """
    hints = {}
    for dist, keys in {
        "stowflow-aws": ["stowflow_aws", "aws-credentials", "s3-bucket"],
        "stowflow-gcp": ["stowflow_gcp", "gcp-credentials", "gcs-bucket"],
        "stowflow-azure": [
            "stowflow_azure",
            "azure-blob-credentials", "azure-blob-storage",
        ],
        "stowflow-github": ["stowflow_github", "github-credentials", "github-repository"],
        "stowflow-gitlab": ["stowflow_gitlab", "gitlab-credentials", "gitlab-repository"],
        "stowflow-docker": ["stowflow_docker", "docker-registry-credentials", "docker"],
        "stowflow-bitbucket": [
            "stowflow_bitbucket", "bitbucket-credentials", "bitbucket-repository",
        ],
    }.items():
        hints.update(dict.fromkeys(keys, dist))
    return hints
