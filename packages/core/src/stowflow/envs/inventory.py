"""The layers on this machine: list them (``stowflow env ls``) and prune them.

Pruning never deletes a layer some process holds a lease on (a running run): it takes
the layer's lease exclusively without waiting, and skips the layer when that fails. A
run that wants a layer while it is being deleted waits for the delete and builds it
again. Folders left by a killed install (no builder holds their lock) are removed too.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from stowflow.envs.layers import DONE, USED, layers_root, try_exclusive


@dataclass
class LayerInfo:
    """One complete layer, as ``env ls`` shows it."""

    key: str
    path: Path
    inputs: list[str]  #: what it was built from (package words, ``-r`` files)
    packages: list[str]  #: the distributions installed in it (``name==version``)
    size: int
    created: float
    last_used: float
    used_by: list[str]
    in_use: bool


@dataclass
class PruneResult:
    """What :func:`prune` removed and what it kept because a run is using it."""

    removed: list[LayerInfo] = field(default_factory=list)
    in_use: list[LayerInfo] = field(default_factory=list)
    leftovers: int = 0  #: folders of killed installs removed

    @property
    def freed(self) -> int:
        """Bytes freed by removing layers."""
        return sum(layer.size for layer in self.removed)


def _read(path: Path) -> LayerInfo | None:
    try:
        meta = json.loads((path / DONE).read_text())
    except (OSError, ValueError):
        return None
    used: list[str] = []
    uses: list[float] = []
    for marker in sorted((path / USED).glob("[!.]*")):
        try:
            used.append(marker.read_text().strip())
            uses.append(marker.stat().st_mtime)
        except OSError:
            continue
    last = max(uses) if uses else float(meta.get("created") or (path / DONE).stat().st_mtime)
    hold = try_exclusive(path.parent, path.name)
    if hold is not None:
        hold.close()
    return LayerInfo(key=path.name, path=path, inputs=list(meta.get("inputs") or []),
                     packages=list(meta.get("packages") or []),
                     size=int(meta.get("size") or 0), created=float(meta.get("created") or 0),
                     last_used=last, used_by=sorted(used), in_use=hold is None)


def list_layers() -> list[LayerInfo]:
    """Return every complete layer on this machine, most recently used first."""
    root = layers_root()
    if not root.is_dir():
        return []
    layers = [info for path in root.iterdir() if path.is_dir() and "." not in path.name
              for info in [_read(path)] if info is not None]
    return sorted(layers, key=lambda info: info.last_used, reverse=True)


def _delete(info: LayerInfo) -> bool:
    hold = try_exclusive(info.path.parent, info.key)
    if hold is None:
        return False
    try:
        doomed = info.path.with_name(f"{info.key}.deleting-{os.getpid()}")
        os.replace(info.path, doomed)  # no longer complete: a waiting run rebuilds it
        shutil.rmtree(doomed, ignore_errors=True)
    finally:
        hold.close()
    return True


def _remove_leftovers(root: Path) -> int:
    """Remove staging and half-deleted folders whose builder is gone; return how many."""
    removed = 0
    for path in root.iterdir():
        if not path.is_dir() or "." not in path.name:
            continue
        key = path.name.split(".", 1)[0]
        try:
            with FileLock(str(root / f"{key}.lock"), timeout=0):
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        except Timeout:  # an install is running right now
            continue
    return removed


def prune(*, max_size: int | None = None, older_than: float | None = None,
          now: float | None = None) -> PruneResult:
    """Delete layers last used more than ``older_than`` seconds ago, then the least
    recently used ones until all layers fit in ``max_size`` bytes; layers in use by a
    running run are kept (and reported). Returns what was removed and kept."""
    result = PruneResult()
    root = layers_root()
    if not root.is_dir():
        return result
    result.leftovers = _remove_leftovers(root)
    now = time.time() if now is None else now
    layers = sorted(list_layers(), key=lambda info: info.last_used)  # oldest first
    total = sum(info.size for info in layers)
    for info in layers:
        too_old = older_than is not None and now - info.last_used > older_than
        too_big = max_size is not None and total > max_size
        if not (too_old or too_big):
            continue
        if _delete(info):
            result.removed.append(info)
            total -= info.size
        else:
            result.in_use.append(info)
    return result
