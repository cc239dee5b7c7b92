"""FaultProxy draws a fault per exchange, so a client that keeps its connection alive meets
faults on later requests too (a pooled SDK client makes few connections)."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import threading
from collections.abc import Iterator

import pytest
from stowflow.testing.faults import FaultProxy


class _KeepAlive(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # one connection serves many requests

    def do_GET(self) -> None:
        body = b"x" * 100
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.ThreadingHTTPServer]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def _get(connection: http.client.HTTPConnection) -> bytes:
    connection.request("GET", "/")
    return connection.getresponse().read()


def test_every_request_on_a_kept_alive_connection_draws_a_fault(
    server: http.server.ThreadingHTTPServer,
) -> None:
    # Regression: a fault was drawn once per connection, so a client reusing one connection
    # for a whole push met at most one draw (the fault tests on Azurite saw no fault).
    proxy = FaultProxy("127.0.0.1", server.server_address[1], rate=0.0)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        assert [_get(connection) for _ in range(5)] == [b"x" * 100] * 5
        connection.close()
        assert proxy.faults == {"pass": 5} and not proxy.struck
    finally:
        proxy.close()


def test_a_fault_the_response_was_too_short_for_strikes_the_next_request(
    server: http.server.ThreadingHTTPServer,
) -> None:
    proxy = FaultProxy("127.0.0.1", server.server_address[1], rate=1.0, faults=("reset",),
                       max_after=10**9)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        assert _get(connection) == b"x" * 100  # shorter than the fault's byte count
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            _get(connection)  # the kept-alive connection is dropped under it
        connection.close()
        assert proxy.struck == {"reset": 1}
    finally:
        proxy.close()


def test_close_cuts_an_open_idle_connection_at_once(
    server: http.server.ThreadingHTTPServer,
) -> None:
    # Regression: close() only closed the sockets, which neither woke the proxy's thread
    # waiting in select() nor tore the connection down, so a client holding a connection
    # (a worker attached to a container) noticed the cut only after IDLE_TIMEOUT (30 s).
    proxy = FaultProxy("127.0.0.1", server.server_address[1], rate=0.0)
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    try:
        assert _get(connection) == b"x" * 100  # the connection is open and idle
        proxy.close()
        assert connection.sock is not None
        with contextlib.suppress(ConnectionResetError):  # a reset, or ...
            assert connection.sock.recv(1) == b""  # ... a FIN; not the 5 s timeout
    finally:
        connection.close()
        proxy.close()


def test_freeze_answers_nothing_and_closes_nothing(
    server: http.server.ThreadingHTTPServer,
) -> None:
    proxy = FaultProxy("127.0.0.1", server.server_address[1], rate=0.0)
    kept = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=1)
    fresh = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=1)
    try:
        assert _get(kept) == b"x" * 100
        proxy.freeze()
        for connection in (kept, fresh):  # a partition: neither an answer nor a close
            with pytest.raises(TimeoutError):
                _get(connection)
    finally:
        kept.close()
        fresh.close()
        proxy.close()
