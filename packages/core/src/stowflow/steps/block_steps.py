"""The core step that pulls code through a storage block (a :class:`~stowflow.storage.StorageBlock`)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from stowflow.errors import StepError


def pull_with_block(block_document_name: str, block_type_slug: str) -> dict[str, str]:
    """Load block ``block_type_slug/block_document_name`` and put its files in the cwd.

    The block fetches into a staging folder inside the working directory (the run's
    workspace on a worker), and the files are then moved up into the working directory.
    The working directory itself is never handed to the block: a storage that swaps its
    destination in atomically would pull it out from under the process. Returns
    ``{"directory"}``, plus ``"version"`` when the block reports the version it pulled.
    Raises :class:`StepError` when the block cannot fetch files.
    """
    from stowflow.blocks import Block
    from stowflow.storage.storage_block import StorageBlock, storage_block_problem

    block = Block.load(f"{block_type_slug}/{block_document_name}")
    problem = storage_block_problem(block)
    if problem is not None or not isinstance(block, StorageBlock):
        raise StepError(
            f"pull_with_block: block '{block_type_slug}/{block_document_name}' {problem}, "
            "so it cannot hold code"
        )
    destination = Path.cwd()
    staging = Path(tempfile.mkdtemp(prefix=".stowflow-pull-", dir=destination))
    try:
        fetched = block.get_directory(local_path=str(staging))
        for entry in sorted(staging.iterdir()):
            target = destination / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            entry.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    from stowflow.storage.block import version_of

    outputs = {"directory": str(destination)}
    version = version_of(fetched)
    if version is not None:
        outputs["version"] = version
    return outputs
