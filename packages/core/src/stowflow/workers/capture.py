"""Capturing a run's prints and log records into its run log, redacted, in batches.

The run subprocess replaces ``sys.stdout`` / ``sys.stderr`` with :class:`LineWriter`
streams and puts a :class:`SinkHandler` on the root logger. Lines are queued and written
by one background thread every ``flush_interval`` seconds (one transaction per batch), so
a chatty flow does not pay one database round trip per print. Redaction happens in
:func:`stowflow.runs.write_logs`, with every secret the run has loaded by then.

A run keeps at most ``max_lines`` lines of at most ``max_chars`` characters each; beyond
that, lines are counted and dropped and one closing line says how many, so a runaway
print loop cannot fill the database.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable

#: ``writer(run_id, lines)``: where a sink's lines go; returns how many it wrote.
LogWriter = Callable[[str, list[tuple[str, str]]], int]


class LogSink:
    """A buffer of ``(level, message)`` lines flushed to the run log by a daemon thread.

    With ``flush_interval=None`` there is no thread and no buffer: each line is written as
    it is emitted — for a cheap writer (a pipe) whose process may be killed at any moment
    (a container hitting its memory limit), so the last lines before the kill are not lost.
    """

    def __init__(self, run_id: str, flush_interval: float | None = 0.25,
                 writer: LogWriter | None = None,
                 max_lines: int = 100_000, max_chars: int = 20_000) -> None:
        self.run_id = run_id
        self.flush_interval = flush_interval
        self.max_lines = max_lines
        self.max_chars = max_chars
        self._accepted = 0
        self._dropped = 0
        self._writer = writer or _database_writer
        self._lines: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="stowflow-log-sink", daemon=True)

    def start(self) -> LogSink:
        """Start the flushing thread (none when lines are written as emitted); return self."""
        if self.flush_interval is not None:
            self._thread.start()
        return self

    def emit(self, level: str, message: str) -> None:
        """Queue one line (cut to ``max_chars``; dropped once ``max_lines`` were kept)."""
        if len(message) > self.max_chars:
            message = message[:self.max_chars] + f" … ({len(message) - self.max_chars} "\
                "characters cut)"
        with self._lock:
            if self._accepted >= self.max_lines:
                self._dropped += 1
                return
            self._accepted += 1
            self._lines.append((level, message))
        if self.flush_interval is None:
            self.flush()

    def flush(self) -> None:
        """Write every queued line now."""
        with self._lock:
            lines, self._lines = self._lines, []
        if lines:
            self._writer(self.run_id, lines)

    def _loop(self) -> None:
        assert self.flush_interval is not None
        while not self._stop.wait(self.flush_interval):
            try:
                self.flush()
            except Exception:  # the database hiccuped: keep the lines for the next try
                continue

    def close(self) -> None:
        """Stop the thread and write what is left (and how many lines were dropped)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._lock:
            dropped, self._dropped = self._dropped, 0
            if dropped:
                self._lines.append(("WARNING", f"{dropped} more log lines were dropped: a run "
                                               f"keeps at most {self.max_lines}"))
        self.flush()


class LineWriter(io.TextIOBase):
    """A text stream that sends each complete line to a :class:`LogSink` at one level."""

    def __init__(self, sink: LogSink, level: str) -> None:
        self._sink = sink
        self._level = level
        self._partial = ""

    def writable(self) -> bool:
        """Always true: this is an output stream."""
        return True

    def write(self, text: str) -> int:
        """Queue every complete line of ``text``; keep a trailing partial line for later."""
        data = self._partial + text
        *lines, self._partial = data.split("\n")
        for line in lines:
            self._sink.emit(self._level, line.rstrip("\r"))
        return len(text)

    def flush(self) -> None:
        """Queue a pending partial line (a ``print(..., end="")`` followed by flush)."""
        if self._partial:
            self._sink.emit(self._level, self._partial)
            self._partial = ""


class SinkHandler(logging.Handler):
    """A logging handler that queues formatted records into a :class:`LogSink`."""

    def __init__(self, sink: LogSink) -> None:
        super().__init__(level=logging.INFO)
        self._sink = sink
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the formatted record (with its traceback, if any) at its level."""
        try:
            self._sink.emit(record.levelname, self.format(record))
        except Exception:
            self.handleError(record)


def _database_writer(run_id: str, lines: list[tuple[str, str]]) -> int:
    """The default writer: the run's log in the database (imported on first use, so a
    sink with its own writer — a container's stdout — never loads the database)."""
    from stowflow.runs.logs import write_logs

    return write_logs(run_id, lines)
