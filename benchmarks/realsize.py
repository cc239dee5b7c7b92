"""The real-size benchmark data set, shared by ``benchmarks/git`` and ``benchmarks/sync``.

Made from a fixed seed, so every run measures the same bytes: about 5,300 files with the
size spread of a real repository — most of them 1-20 KB of source-like text (it
compresses the way code does), a few binary files of 1-5 MB, 80 MB in all, nested up to 6
folders deep — plus, for git, a history of 50 commits that each change a few files.
It also holds the two timing helpers the real-size benchmarks share.

``scale`` shrinks the file count and the large files alike (``--quick`` runs use 0.1), so
quick runs keep the same shape.

    import sys; sys.path.insert(0, str(Path(__file__).parents[1]))
    from realsize import make_tree, history
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

SEED = 20261202
KB, MB = 1024, 1024 * 1024
SMALL_FILES = 5286
LARGE_FILES = 15
COMMITS = 50

_WORDS = ["def", "class", "return", "import", "from", "self", "value", "result", "data", "config", "path", "name", "item", "for", "in", "if", "else", "elif", "while", "with", "as", "try", "except", "raise", "yield", "lambda", "None", "True", "False", "assert", "async", "await", "print", "len", "range", "list", "dict", "set", "tuple", "str", "int", "float", "open", "read", "write", "close", "logger", "info", "debug", "error", "warning", "request", "response", "client", "server", "session", "token", "cache", "store", "pull", "push", "flow", "run", "worker"]


@dataclass(frozen=True)
class FileSpec:
    """One file of the data set: its relative path and its size in bytes."""

    path: str
    size: int
    binary: bool


def _folder(rng: random.Random) -> str:
    # 1 to 6 levels, names drawn from a small set: about 500 folders of ~10 files each
    depth = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5, 6))
    return "/".join(f"{('src', 'lib', 'pkg', 'mod', 'core', 'util')[level]}"
                    f"{rng.randint(0, 3 if level < 2 else 1)}" for level in range(depth))


def specs(scale: float = 1.0, seed: int = SEED) -> list[FileSpec]:
    """Return the data set's files (paths and sizes) for ``scale`` (1.0 = the full set)."""
    rng = random.Random(f"{seed}-specs")
    out: list[FileSpec] = []
    for n in range(max(1, int(SMALL_FILES * scale))):
        # log-uniform 1-20 KB: most files small, a tail towards 20 KB (mean about 6.5 KB)
        size = int(KB * 20 ** rng.random())
        ext = rng.choice((".py", ".py", ".py", ".md", ".json", ".txt"))
        out.append(FileSpec(f"{_folder(rng)}/file_{n:05d}{ext}", size, False))
    for n in range(max(1, int(LARGE_FILES * scale))):
        size = int(rng.uniform(1, 5) * MB * (1 if scale >= 1 else max(scale, 0.1)))
        out.append(FileSpec(f"{_folder(rng)}/asset_{n:02d}.bin", size, True))
    return out


class _Text:
    """Source-like text of any length from a fixed seed, produced fast (slices of a corpus)."""

    def __init__(self, rng: random.Random) -> None:
        lines = []
        for _ in range(40000):
            words = rng.choices(_WORDS, k=rng.randint(2, 12))
            lines.append("    " * rng.randint(0, 3) + " ".join(words))
        self.corpus = ("\n".join(lines) + "\n").encode()

    def take(self, rng: random.Random, size: int, header: str) -> bytes:
        head = f"# {header}\n".encode()
        start = rng.randrange(0, len(self.corpus) - size - 1)
        return head + self.corpus[start:start + max(0, size - len(head))]


def contents(scale: float = 1.0, seed: int = SEED) -> Iterator[tuple[FileSpec, bytes]]:
    """Yield every file of the data set with its bytes."""
    rng = random.Random(f"{seed}-bytes")
    text = _Text(rng)
    for spec in specs(scale, seed):
        if spec.binary:
            yield spec, rng.randbytes(spec.size)
        else:
            yield spec, text.take(rng, spec.size, spec.path)


def make_tree(root: Path, scale: float = 1.0, seed: int = SEED) -> Path:
    """Write the data set under ``root``; return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for spec, data in contents(scale, seed):
        target = root / spec.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def history(scale: float = 1.0, seed: int = SEED,
            commits: int = COMMITS) -> Iterator[dict[str, bytes]]:
    """Yield ``commits - 1`` changes after the first commit: each rewrites 1-5 small files."""
    rng = random.Random(f"{seed}-history")
    small = [s for s in specs(scale, seed) if not s.binary]
    for c in range(1, commits):
        picked = rng.sample(small, rng.randint(1, 5))
        yield {s.path: f"# commit {c}\n".encode() + rng.randbytes(16).hex().encode() * 8
               for s in picked}


def tree_bytes(root: Path) -> int:
    """Return the total size of the files under ``root`` (``.git`` excluded)."""
    return sum(p.stat().st_size for p in root.rglob("*")
               if p.is_file() and ".git" not in p.relative_to(root).parts)


def timed(fn: Callable[[], object]) -> float:
    """Return how many seconds ``fn()`` took (wall clock)."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages, for the benchmark's report."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
