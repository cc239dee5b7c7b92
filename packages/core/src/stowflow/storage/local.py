"""``LocalStorage``: code in a folder on this machine, used where it is.

A pull does not copy anything: it returns the folder itself, with a version that is the
digest of what a push of the folder would upload (paths, sizes, sha256s, exec bits), so a
run still records exactly which code it ran. The pull step is ``set_working_directory``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stowflow.errors import StorageError
from stowflow.storage.base import PullResult

PULL_STEP = "stowflow.deployments.steps.set_working_directory"


class LocalStorage:
    """A local folder used as it is (process workers on the same machine)."""

    def __init__(self, path: str | Path, ignore_file: str | None = ".stowflowignore") -> None:
        self.path = Path(path).expanduser().absolute()
        self.ignore_file = ignore_file

    def pull(self, destination: Path | None = None) -> PullResult:
        """Return the folder itself and a digest of its contents; ``destination`` is unused.

        Raises ``StorageError`` when the folder does not exist.
        """
        from stowflow.transfer.scan import tree_digest

        if not self.path.is_dir():
            raise StorageError(f"local code folder '{self.path}' does not exist",
                               hint="check the path given as the source")
        return PullResult(directory=self.path, version=tree_digest(self.path, self.ignore_file))

    def to_pull_step(self) -> dict[str, Any]:
        """Return ``{set_working_directory: {directory: path}}``."""
        return {PULL_STEP: {"directory": str(self.path)}}

    def describe(self) -> str:
        """Return the folder's path."""
        return str(self.path)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.path)!r})"
