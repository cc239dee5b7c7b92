"""``RemoteStorage``: code in an object store (``s3://``, ``gs://``, ``az://``, ``memory://``...).

A thin Storage over the sync engine: the URL picks an ObjectStore through the plugins'
``stowflow_object_store_for_url`` hook (a provider's native client, or core's fsspec
fallback) and :func:`stowflow.transfer.pull` does the work. Options (client settings,
credentials) go to that hook unchanged; in the recorded pull step, credentials appear only
as block placeholders — never as values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stowflow.errors import ConfigError
from stowflow.redact import known_secrets
from stowflow.storage.base import PullResult

PULL_STEP = "stowflow.deployments.steps.pull_from_remote_storage"


class RemoteStorage:
    """Code stored under ``url`` in an object store, pulled with the sync engine."""

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.options = options

    def _open(self) -> tuple[Any, str]:
        from stowflow.transfer import open_store

        return open_store(self.url, self.options)

    def pull(self, destination: Path | None = None) -> PullResult:
        """Pull the latest version into ``destination`` (default: ``cwd/<last part>``).

        Atomic: on failure ``destination`` is unchanged. Returns the folder and the version.
        """
        from stowflow import transfer

        store, prefix = self._open()
        with store:
            result = transfer.pull(store, prefix, destination)
        return PullResult(directory=result.directory, version=result.version)

    def push(self, source_dir: Path, **kwargs: Any) -> Any:
        """Push ``source_dir`` as a new version; ``kwargs`` go to :func:`stowflow.transfer.push`.

        Returns the engine's ``PushResult``.
        """
        from stowflow import transfer

        store, prefix = self._open()
        with store:
            return transfer.push(source_dir, store, prefix, **kwargs)

    def to_pull_step(self) -> dict[str, Any]:
        """Return the ``pull_from_remote_storage`` step that reproduces this storage.

        Saved blocks become ``{{ stowflow.blocks.slug.name }}`` placeholders; a credential
        given as a plain value raises ``ConfigError`` (it would be stored in the clear).
        """
        return {PULL_STEP: {"url": self.url, **_step_safe(self.options, "")}}

    def describe(self) -> str:
        """Return the URL without any ``user:password@`` part."""
        from stowflow.transfer.url import display_url

        return display_url(self.url)

    def __repr__(self) -> str:
        return f"RemoteStorage({self.describe()!r})"


def _step_safe(value: Any, name: str) -> Any:
    """Return ``value`` with blocks as placeholders; refuse plain credential values."""
    from stowflow.blocks import Block
    from stowflow.placeholders import block_placeholder, has_placeholder

    if isinstance(value, Block):
        return block_placeholder(
            value, f"option '{name}'",
            hint="save the block first (block.save('name')) so the step can refer to it")
    if isinstance(value, dict):
        return {k: _step_safe(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_step_safe(v, name) for v in value]
    if isinstance(value, str) and not has_placeholder(value):
        from stowflow.transfer.url import looks_secret

        if value in known_secrets() or (value and looks_secret(name)):
            raise ConfigError(
                f"option '{name}' looks like a credential and would be stored in the "
                "deployment's pull step",
                hint="put it in a block and pass the block (or a "
                     "'{{ stowflow.blocks.<slug>.<name> }}' placeholder) instead",
            )
    return value
