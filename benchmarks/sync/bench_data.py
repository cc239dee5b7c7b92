"""Benchmark data sets, made from a fixed seed so every run measures the same bytes.

- ``small``: many small files (default 2,000 files of 1-16 KB, about 17 MB) in nested folders;
- ``large``: a few large files (default 8 files of 25 MB, 200 MB);
- ``mixed``: both in one tree.

Sizes are parameters, so ``--quick`` runs the same shapes scaled down.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

SEED = 20260101
MB = 1024 * 1024


@dataclass(frozen=True)
class Sizes:
    """How big each data set is."""

    small_files: int = 2000
    small_min: int = 1024
    small_max: int = 16 * 1024
    large_files: int = 8
    large_size: int = 25 * MB


FULL = Sizes()
QUICK = Sizes(small_files=200, large_files=2, large_size=4 * MB)


def _write_small(root: Path, rng: random.Random, sizes: Sizes) -> None:
    for n in range(sizes.small_files):
        path = root / f"pkg{n % 40:02d}" / f"sub{n % 7}" / f"module_{n:05d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(sizes.small_min, sizes.small_max)))


def _write_large(root: Path, rng: random.Random, sizes: Sizes) -> None:
    (root / "data").mkdir(parents=True, exist_ok=True)
    for n in range(sizes.large_files):
        with open(root / "data" / f"blob_{n}.bin", "wb") as out:
            left = sizes.large_size
            while left:
                chunk = min(left, 4 * MB)
                out.write(rng.randbytes(chunk))
                left -= chunk


def make_dataset(root: Path, kind: str, sizes: Sizes = FULL, seed: int = SEED) -> Path:
    """Write data set ``kind`` (``small``, ``large`` or ``mixed``) under ``root``; return it."""
    rng = random.Random(f"{seed}-{kind}")
    root.mkdir(parents=True, exist_ok=True)
    if kind in ("small", "mixed"):
        _write_small(root, rng, sizes)
    if kind in ("large", "mixed"):
        _write_large(root, rng, sizes)
    if kind not in ("small", "large", "mixed"):
        raise ValueError(f"unknown data set {kind!r}")
    return root


def tree_bytes(root: Path) -> int:
    """Return the total size of the files under ``root``."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def change_one_file(root: Path) -> Path:
    """Rewrite one small file (or one large one if there are no small) with new bytes."""
    candidates = sorted(p for p in root.rglob("*.py")) or sorted(root.rglob("*.bin"))
    target = candidates[len(candidates) // 2]
    data = target.read_bytes()
    target.write_bytes(b"# changed\n" + data[10:])
    return target
