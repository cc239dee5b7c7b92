"""``BlockStorage``: a saved :class:`~stowflow.storage.StorageBlock` used as a code source."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from stowflow.errors import DeploymentError, StorageError, StowflowError
from stowflow.settings import get_settings
from stowflow.storage.base import PullResult


class BlockStorage:
    """Code kept by a storage block (an ``S3Bucket``, any :class:`StorageBlock`).

    ``pull`` asks the block to copy its files; ``to_pull_step`` records a step that loads
    the block by name on the worker, so its credentials are never written into the
    deployment.
    """

    def __init__(self, block: Any) -> None:
        from stowflow.storage.storage_block import storage_block_problem

        problem = storage_block_problem(block)
        if problem is not None:
            raise StorageError(f"{type(block).__name__} {problem}, so it cannot hold code")
        self.block = block

    def _ref(self) -> tuple[str, str]:
        slug = type(self.block).get_block_type_slug()
        name = getattr(self.block, "block_document_name", None)
        if not name:
            raise DeploymentError(
                f"this {slug} block was never saved, so workers cannot load it by name",
                hint="save it first (block.save('name')) or load a saved one (Cls.load('name'))",
            )
        return slug, name

    def describe(self) -> str:
        """Return ``block type-slug/name`` (or the type alone for an unsaved block)."""
        slug = type(self.block).get_block_type_slug()
        name = getattr(self.block, "block_document_name", None)
        return f"block {slug}/{name}" if name else f"unsaved {slug} block"

    def to_pull_step(self) -> dict[str, Any]:
        """Return a ``pull_with_block`` step naming the saved block (no credentials)."""
        slug, name = self._ref()
        return {
            "stowflow.deployments.steps.pull_with_block": {
                "block_document_name": name,
                "block_type_slug": slug,
            }
        }

    def pull(self, destination: Path | None = None) -> PullResult:
        """Copy the block's files into ``destination`` (default: a per-block cache folder).

        The files are fetched into a temporary folder beside ``destination`` and swapped
        in only when complete, so a failed pull leaves ``destination`` as it was.
        """
        if destination is None:
            slug = type(self.block).get_block_type_slug()
            name = getattr(self.block, "block_document_name", None) or "unsaved"
            destination = get_settings().cache_dir / "blocks" / slug / name
        destination = Path(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".pull-", dir=destination.parent))
        try:
            fetched = self.block.get_directory(local_path=str(staging))
        except StowflowError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        except Exception as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise StorageError(
                f"pulling code from {self.describe()} failed: {type(exc).__name__}: {exc}"
            ) from exc
        from stowflow.transfer.materialise import swap_in

        swap_in(staging, destination)  # restores destination if the swap fails
        return PullResult(directory=destination, version=version_of(fetched))


def version_of(fetched: Any) -> str | None:
    """Return the code version a block's ``get_directory`` reported, if it reported one.

    Object-store blocks return the sync engine's result (with ``version``); blocks that
    return only a path report none.
    """
    version = getattr(fetched, "version", None)
    return version if isinstance(version, str) and version else None
