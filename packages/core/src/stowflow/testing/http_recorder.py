"""A tiny HTTP server on 127.0.0.1 that records what API clients send.

For testing that a provider's SDK client (``get_client()``) is configured from a block:
the server answers every request with one JSON document and records the method, path
and headers, so a test can assert the ``Authorization`` header a client really sent.

    with recording_http_server({"login": "octocat"}) as server:
        GitHubCredentials(token="t", url=server.url).get_client().get_user().login
        assert server.requests[-1].headers["Authorization"] == "token t"
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class RecordingServer:
    """The running server: its base ``url`` and the ``requests`` received so far."""

    url: str
    requests: list[RecordedRequest] = field(default_factory=list)

    def header(self, name: str) -> list[str | None]:
        """Return header ``name`` (case-insensitive) of every request, in order."""
        lowered = name.lower()
        return [
            next((v for k, v in r.headers.items() if k.lower() == lowered), None)
            for r in self.requests
        ]


@contextmanager
def recording_http_server(body: Any = None, status: int = 200, *,
                          html: str | None = None) -> Iterator[RecordingServer]:
    """Run a threaded HTTP server on a free 127.0.0.1 port for the ``with`` block.

    Every request (any method, any path) is recorded and answered with ``status`` and
    ``body`` as JSON (``{}`` when ``body`` is ``None``), or with ``html`` as an HTML page
    (what a web server that is not the expected API, or a login proxy, answers).
    """
    payload = (html.encode() if html is not None
               else json.dumps({} if body is None else body).encode())
    content_type = "text/html" if html is not None else "application/json"
    recorded: list[RecordedRequest] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            with lock:
                recorded.append(RecordedRequest(self.command, self.path, dict(self.headers)))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean; the requests are recorded instead

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="recording-http", daemon=True)
    thread.start()
    try:
        port = int(httpd.server_address[1])
        yield RecordingServer(url=f"http://127.0.0.1:{port}", requests=recorded)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
