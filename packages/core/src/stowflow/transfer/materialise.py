"""Building a pulled tree next to its destination and swapping it in atomically.

The new tree is made in a sibling folder (same filesystem, so renames are atomic) from
the cache — hardlinks, or copies where links are impossible — then swapped in: the old
destination is renamed aside, the new one renamed in, the old one deleted. If anything
fails before the swap, the sibling is removed and the destination is exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from stowflow.errors import StorageError
from stowflow.transfer.cache import ContentCache
from stowflow.transfer.manifest import FileEntry


def build_tree(dest: Path, entries: Iterable[FileEntry], cache: ContentCache) -> Path:
    """Create a sibling of ``dest`` holding ``entries`` (all content already cached).

    Returns the sibling's path; the caller swaps it in with :func:`swap_in`.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{dest.name}.stowflow-new-", dir=dest.parent))
    try:
        os.chmod(new, 0o755)  # mkdtemp makes 0700; the tree is for the user's tools too
        made: set[str] = set()
        for entry in entries:
            target = new / entry.path
            folder = entry.path.rpartition("/")[0]
            if folder and folder not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(folder)
            if entry.size == 0:
                target.touch()
                os.chmod(target, 0o755 if entry.executable else 0o644)
                continue
            source = cache.source_for(entry.sha256, entry.executable)
            try:
                os.link(source, target)
            except OSError:  # another filesystem, or the link limit: copy instead
                shutil.copyfile(source, target)
                os.chmod(target, 0o755 if entry.executable else 0o644)
        return new
    except BaseException:
        remove_tree(new)
        raise


def swap_in(new: Path, dest: Path) -> None:
    """Replace ``dest`` with the folder ``new`` (both in the same parent) atomically.

    Raises ``StorageError`` if ``dest`` is a file or a symlink. On failure ``dest`` is
    restored and ``new`` removed.
    """
    try:
        if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
            raise StorageError(f"cannot pull into '{dest}': it exists and is not a folder")
        if not dest.exists():
            os.rename(new, dest)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.stowflow-old-", dir=dest.parent))
        os.rmdir(old)  # only the unique name is wanted
        os.rename(dest, old)
        try:
            os.rename(new, dest)
        except BaseException:
            os.rename(old, dest)
            raise
    except BaseException:
        remove_tree(new)
        raise
    remove_tree(old)


def remove_tree(path: Path) -> None:
    """Delete a folder made by a pull, read-only cache links included; ignore errors."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path, ignore_errors=True)
