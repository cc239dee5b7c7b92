"""Run-log capture: line splitting, batching, caps."""

from __future__ import annotations

import logging
import time

from stowflow.workers.capture import LineWriter, LogSink, SinkHandler


def make_sink(**kwargs):
    written: list[tuple[str, str]] = []

    def writer(run_id: str, lines: list[tuple[str, str]]) -> int:
        assert run_id == "run-1"
        written.extend(lines)
        return len(lines)

    return LogSink("run-1", writer=writer, **kwargs), written


def test_line_writer_splits_lines_and_keeps_partial_until_flush():
    sink, written = make_sink()
    out = LineWriter(sink, "INFO")
    out.write("a\nb")
    out.write("c\r\n")
    out.write("tail")
    sink.flush()
    assert written == [("INFO", "a"), ("INFO", "bc")]
    out.flush()
    sink.close()
    assert written[-1] == ("INFO", "tail")


def test_background_thread_flushes_batches():
    sink, written = make_sink(flush_interval=0.01)
    sink.start()
    sink.emit("INFO", "one")
    sink.emit("ERROR", "two")
    deadline = time.monotonic() + 5
    while len(written) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert written == [("INFO", "one"), ("ERROR", "two")]
    sink.close()
    assert written == [("INFO", "one"), ("ERROR", "two")]


def test_caps_drop_lines_and_say_so():
    sink, written = make_sink(max_lines=3, max_chars=10)
    for i in range(5):
        sink.emit("INFO", f"line {i}")
    sink.emit("INFO", "x" * 25)
    sink.close()
    assert written[:3] == [("INFO", "line 0"), ("INFO", "line 1"), ("INFO", "line 2")]
    assert written[3] == ("WARNING", "3 more log lines were dropped: a run keeps at most 3")
    sink2, written2 = make_sink(max_chars=10)
    sink2.emit("INFO", "y" * 25)
    sink2.close()
    assert written2 == [("INFO", "y" * 10 + " … (15 characters cut)")]


def test_sink_handler_formats_records_with_their_level():
    sink, written = make_sink()
    logger = logging.getLogger("capture-test")
    handler = SinkHandler(sink)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.warning("careful %s", "now")
        logger.debug("hidden")
    finally:
        logger.removeHandler(handler)
    sink.close()
    assert written == [("WARNING", "capture-test: careful now")]


def test_a_sink_without_interval_writes_each_line_as_it_is_printed():
    """What a container's run uses: a line is out before the next statement runs, so a
    process killed right after a print (out of memory) has already sent it."""
    sink, written = make_sink(flush_interval=None)
    sink.start()
    out = LineWriter(sink, "INFO")
    out.write("hog started\n")
    assert written == [("INFO", "hog started")]
    out.write("half")
    assert written == [("INFO", "hog started")]  # a partial line waits for its end
    sink.close()
    assert written == [("INFO", "hog started")]
