"""Hashing a source tree: the one pass a push (and ``LocalStorage``) makes over the files."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from stowflow.transfer.cache import hash_file
from stowflow.transfer.ignore import SourceFile, walk


@dataclass(frozen=True)
class HashedFile:
    """A source file with its sha256 and the mtime it had when hashed."""

    source: SourceFile
    sha256: str
    mtime_ns: int

    @property
    def relpath(self) -> str:
        """The file's relative POSIX path."""
        return self.source.relpath

    def unchanged(self) -> bool:
        """Return whether the file still has the size and mtime it had when hashed."""
        try:
            st = self.source.path.stat()
        except OSError:
            return False
        return st.st_size == self.source.size and st.st_mtime_ns == self.mtime_ns


def _hash_one(source: SourceFile) -> HashedFile:
    mtime = source.path.stat().st_mtime_ns
    if source.size < 1024 * 1024:
        sha = hashlib.sha256(source.path.read_bytes()).hexdigest()
    else:
        sha = hash_file(source.path)
    return HashedFile(source, sha, mtime)


def hash_files(files: list[SourceFile], workers: int | None = None) -> list[HashedFile]:
    """Return ``files`` with their sha256s, hashed in parallel (hashlib releases the GIL)."""
    workers = workers or min(8, (os.cpu_count() or 2) * 2)
    if len(files) < 64:
        return [_hash_one(f) for f in files]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stowflow-hash") as pool:
        return list(pool.map(_hash_one, files))


def tree_digest(root: Path, ignore_file: str | None = ".stowflowignore") -> str:
    """Return a digest of what a push of ``root`` would upload (paths, sizes, sha256s, modes).

    Two trees with the same digest hold the same files; ``LocalStorage`` reports it as
    the version of a local folder.
    """
    hashed = hash_files(walk(Path(root), ignore_file))
    doc = [[h.relpath, h.source.size, h.sha256, h.source.executable] for h in hashed]
    return hashlib.sha256(json.dumps(doc, separators=(",", ":")).encode()).hexdigest()
