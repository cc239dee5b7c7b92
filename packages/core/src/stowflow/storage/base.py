"""The ``Storage`` protocol: where a deployment's code lives and how to get it.

Every kind of code source (a local folder, a git repository, an object-store prefix, a
storage block) implements this. A deployment records ``to_pull_step()``; a worker runs
that step; ``Flow.from_source`` calls ``pull()`` to read flow metadata at deploy time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class PullResult:
    """What a pull produced: the directory holding the code and the exact version pulled."""

    directory: Path
    #: A git commit SHA, a manifest digest, or ``None`` for a source without versions.
    version: str | None = None


@runtime_checkable
class Storage(Protocol):
    """A source of a deployment's code."""

    def pull(self, destination: Path | None = None) -> PullResult:
        """Fetch the code into ``destination`` (or a cache-managed folder) and return it.

        Atomic: on failure, ``destination`` is as it was before.
        """
        ...

    def to_pull_step(self) -> dict[str, Any]:
        """Return the one step that reproduces this storage on a worker.

        ``{"import.path.of.step": {kwargs}}``; credentials appear only as block
        placeholders (``{{ stowflow.blocks.slug.name }}``), never as values.
        """
        ...

    def describe(self) -> str:
        """Return a one-line human description (no credentials), e.g. a URL."""
        ...
