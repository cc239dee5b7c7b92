"""The core step that pulls code through a storage block (a :class:`~stowflow.storage.StorageBlock`)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from stowflow.errors import StepError


def pull_with_block(block_document_name: str, block_type_slug: str,
                    version: str | None = None) -> dict[str, str]:
    """Load block ``block_type_slug/block_document_name`` and put its files in the cwd.

    The block fetches into a staging folder inside the working directory (the run's
    workspace on a worker), and the files are then moved up into the working directory.
    The working directory itself is never handed to the block: a storage that swaps its
    destination in atomically would pull it out from under the process. ``version`` (set
    by ``flow-run retry``: the version an earlier run reported) fetches exactly that
    version. Returns ``{"directory"}``, plus ``"version"`` when the block reports the
    version it pulled. Raises :class:`StepError` when the block cannot fetch files, or
    cannot fetch a given version.
    """
    from stowflow.blocks import Block
    from stowflow.storage.storage_block import StorageBlock, storage_block_problem

    ref = f"{block_type_slug}/{block_document_name}"
    block = Block.load(ref)
    problem = storage_block_problem(block)
    if problem is not None or not isinstance(block, StorageBlock):
        raise StepError(f"pull_with_block: block '{ref}' {problem}, so it cannot hold code")
    options: dict[str, str] = {}
    if version is not None:
        if not takes_version(type(block)):
            raise StepError(
                f"pull_with_block: block '{ref}' ({type(block).__name__}) cannot fetch a "
                f"given version (its get_directory takes no version), so code version "
                f"{version!r} cannot be pulled again",
                hint="retry the run on the current code with --latest-code")
        options["version"] = version
    destination = Path.cwd()
    staging = Path(tempfile.mkdtemp(prefix=".stowflow-pull-", dir=destination))
    try:
        fetched = block.get_directory(local_path=str(staging), **options)
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
    pulled = version_of(fetched)
    if version is not None and pulled is not None and pulled != version \
            and not pulled.startswith(version):
        raise StepError(f"pull_with_block: block '{ref}' was asked for version {version!r} "
                        f"and fetched {pulled!r}")
    if pulled is not None:
        outputs["version"] = pulled
    return outputs


def takes_version(block_type: type) -> bool:
    """Whether a storage block type's ``get_directory`` can fetch a given ``version``."""
    import inspect

    method = getattr(block_type, "get_directory", None)
    return method is not None and "version" in inspect.signature(method).parameters
