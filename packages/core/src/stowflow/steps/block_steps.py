"""The core step that pulls code through a storage block (any block with ``get_directory``)."""

from __future__ import annotations

from pathlib import Path

from stowflow.errors import StepError


def pull_with_block(block_document_name: str, block_type_slug: str) -> dict[str, str]:
    """Load block ``block_type_slug/block_document_name`` and fetch its files.

    The files land in a folder named after the block inside the working directory (the
    run's workspace on a worker): never the working directory itself, which a storage
    that swaps its destination in atomically would pull out from under the process.
    Returns ``{"directory"}``. Raises :class:`StepError` when the block cannot fetch files.
    """
    from stowflow.blocks import Block

    block = Block.load(f"{block_type_slug}/{block_document_name}")
    get_directory = getattr(block, "get_directory", None)
    if not callable(get_directory):
        raise StepError(
            f"pull_with_block: block '{block_type_slug}/{block_document_name}' has no "
            "get_directory method, so it cannot hold code"
        )
    destination = Path.cwd() / block_document_name
    get_directory(local_path=str(destination))
    return {"directory": str(destination)}
