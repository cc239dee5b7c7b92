"""Room on the local disks a pull or push writes to: checked before, named when it runs out.

A pull writes fetched content into a sibling of its destination and hardlinks it into the
node cache (a copy when the cache is on another filesystem). :func:`check_room` refuses a
pull whose content cannot fit before anything is written; :func:`disk_full_error` turns an
``ENOSPC`` met later (the disk filled meanwhile, or block rounding of many small files)
into one :class:`~stowflow.errors.DiskFullError` naming the paths, the space needed and the
space free — instead of "unexpected OSError: [Errno 28]" or a store blamed for it.
A push that fills a disk (a ``file://`` store's, or the node cache's) gets the same from
:func:`push_disk_full_error`: the file it was writing, what the push uploads, the space free.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from stowflow.errors import DiskFullError
from stowflow.sizes import format_size as _size

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def disk_full_cause(exc: BaseException) -> OSError | None:
    """Return the ``ENOSPC``/``EDQUOT`` error behind ``exc`` (itself or a chained cause)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return current
        current = current.__cause__ or current.__context__
    return None


def _places(dest: Path, cache_root: Path) -> list[Path]:
    """The distinct filesystems written to: the destination's folder, then the cache's."""
    places = [dest.parent]
    try:
        if os.stat(cache_root).st_dev != os.stat(dest.parent).st_dev:
            places.append(cache_root)
    except OSError:
        places.append(cache_root)
    return places


def _free(path: Path) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def _where(places: Sequence[tuple[Path, int | None]]) -> str:
    return "; ".join(f"{_size(free)} free in '{path}'" if free is not None
                     else f"'{path}' (free space unknown)" for path, free in places)


def _message(dest: Path, needed: int, short: Sequence[tuple[Path, int | None]]) -> str:
    return (f"no space left on the disk to pull into '{dest}': the content needs "
            f"{_size(needed)}, {_where(short)}")


_HINT = ("free space there, pull into a folder on a larger disk, or move the node cache "
         "(STOWFLOW_HOME) to one; the destination was left as it was")


def check_room(dest: Path, cache_root: Path, needed: int) -> None:
    """Raise :class:`DiskFullError` when ``needed`` bytes cannot fit where a pull writes."""
    if needed <= 0:
        return
    short = [(path, free) for path in _places(dest, cache_root)
             if (free := _free(path)) is not None and free < needed]
    if short:
        raise DiskFullError(_message(dest, needed, short), hint=_HINT)


def disk_full_error(cause: OSError, dest: Path, cache_root: Path, needed: int) -> DiskFullError:
    """Return the :class:`DiskFullError` for ``cause`` met while pulling into ``dest``
    (called after the unfinished tree was removed, so the free space is measured without
    it; many small files take a page of the disk each, more than their bytes)."""
    places = [(path, _free(path)) for path in _places(dest, cache_root)]
    writing = f" writing '{cause.filename}'" if cause.filename else ""
    return DiskFullError(
        f"no space left on the disk to pull into '{dest}': the content needs "
        f"{_size(needed)} and the disk filled{writing} (now, with the unfinished tree "
        f"removed: {_where(places)})", hint=_HINT)


def free_near(path: Path) -> tuple[Path, int | None]:
    """Return the nearest existing folder at or above ``path`` and its free bytes."""
    folder = path
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder, _free(folder)


def push_disk_full_error(cause: OSError, store: str, source: Path, needed: int,
                         written: int) -> DiskFullError:
    """Return the :class:`DiskFullError` for ``cause`` met while pushing ``source`` to
    ``store``: the local file being written (the store's own, or the node cache's), the
    bytes the push uploads and had written, and the free space where it failed."""
    where = f" writing '{cause.filename}'" if cause.filename else ""
    room = ""
    if cause.filename:
        folder, free = free_near(Path(str(cause.filename)).parent)
        room = f"; {_where([(folder, free)])}"
    return DiskFullError(
        f"no space left on the disk to push '{source}' to {store}{where}: the push uploads "
        f"{_size(needed)} ({_size(written)} written before the disk filled){room}",
        hint="free space there or push to a store on a larger disk; the store's HEAD still "
        "names the version it had")
