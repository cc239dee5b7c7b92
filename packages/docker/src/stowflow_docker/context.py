"""The build context: which files go in, packed as a deterministic tar, and its digest.

A context honours the project's ``.stowflowignore`` (with stowflow's defaults: ``.git/``,
virtual environments, caches) and ``.dockerignore`` (gitignore-style patterns). Entries
carry fixed owners and times, so the same files give the same bytes: the tar's digest is the
default image tag, and an unchanged project is never rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import pathspec
from stowflow.transfer.ignore import walk

DOCKERIGNORE = ".dockerignore"


def context_files(root: Path) -> list[tuple[str, Path]]:
    """Return ``(relpath, path)`` of every file of ``root`` the build sees, sorted."""
    files = walk(root, ".stowflowignore")
    ignore = root / DOCKERIGNORE
    if ignore.is_file():
        spec = pathspec.GitIgnoreSpec.from_lines(ignore.read_text(encoding="utf-8").splitlines())
        files = [f for f in files if not spec.match_file(f.relpath)]
    return [(f.relpath, f.path) for f in files]


@dataclass
class BuildContext:
    """A tar being assembled in memory; :meth:`digest` names its content."""

    _buffer: io.BytesIO = field(default_factory=io.BytesIO)
    _tar: tarfile.TarFile | None = None
    _sealed: bytes | None = None

    def __post_init__(self) -> None:
        # closed by seal(): the tar is built up across calls
        self._tar = tarfile.open(fileobj=self._buffer, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644) -> None:
        """Add a file ``name`` with ``data``."""
        assert self._tar is not None, "the context is sealed"
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), mode, 0
        self._tar.addfile(info, io.BytesIO(data))

    def add_file(self, name: str, path: Path) -> None:
        """Add the file at ``path`` as ``name`` (executable bit kept)."""
        mode = 0o755 if path.stat().st_mode & 0o100 else 0o644
        self.add_bytes(name, path.read_bytes(), mode)

    def add_tree(self, prefix: str, root: Path) -> int:
        """Add the context files of ``root`` under ``prefix``; return how many."""
        files = context_files(root)
        for relpath, path in files:
            self.add_file(f"{prefix}{relpath}", path)
        return len(files)

    def seal(self) -> bytes:
        """Finish the tar and return its bytes."""
        if self._sealed is None:
            assert self._tar is not None
            self._tar.close()
            self._tar = None
            self._sealed = self._buffer.getvalue()
        return self._sealed

    def digest(self, *extra: str) -> str:
        """Return the sha256 of the tar and ``extra`` settings (build args, platform)."""
        value = hashlib.sha256(self.seal())
        for item in extra:
            value.update(b"\0" + item.encode())
        return value.hexdigest()
