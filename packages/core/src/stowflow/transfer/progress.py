"""Progress reporting: the engine calls a callback with cumulative snapshots.

A callback receives a :class:`ProgressEvent` after the work is sized (``done_*`` zero)
and after each file or object is transferred. It is called from worker threads, under a
lock, so it must be quick; the CLI feeds a Rich progress bar from it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressEvent:
    """A snapshot of an operation's progress (files and bytes, done and total)."""

    operation: str  #: ``"push"`` or ``"pull"``
    total_files: int
    total_bytes: int
    done_files: int
    done_bytes: int


ProgressCallback = Callable[[ProgressEvent], None]


class Reporter:
    """Accumulates progress from many threads and forwards snapshots to a callback."""

    def __init__(self, operation: str, callback: ProgressCallback | None) -> None:
        self.operation = operation
        self._callback = callback
        self._lock = threading.Lock()
        self.total_files = self.total_bytes = self.done_files = self.done_bytes = 0

    def start(self, total_files: int, total_bytes: int) -> None:
        """Set the totals and report a first snapshot."""
        with self._lock:
            self.total_files, self.total_bytes = total_files, total_bytes
            self._emit()

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        """Add ``files`` and ``nbytes`` to what is done and report."""
        with self._lock:
            self.done_files += files
            self.done_bytes += nbytes
            self._emit()

    def _emit(self) -> None:
        if self._callback is not None:
            self._callback(ProgressEvent(self.operation, self.total_files, self.total_bytes,
                                         self.done_files, self.done_bytes))
