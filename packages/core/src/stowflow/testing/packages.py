"""Python packages for install tests, with no index on the internet.

- :func:`build_wheel` writes a tiny pure-Python wheel.
- :func:`serve_package_index` serves wheels as a PEP 503 simple index on 127.0.0.1
  (optionally behind HTTP Basic auth) and records every path asked of it, so a test can
  tell that a package really came from the index — or that a cached install asked nothing.
"""

from __future__ import annotations

import base64
import hashlib
import html
import threading
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_wheel(folder: Path, name: str, version: str = "1.0", body: str = "",
                extra: dict[str, str] | None = None, entry_points: str | None = None) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` with package ``name`` (``__init__.py`` is
    ``body``), ``extra`` files (path → text) and an ``entry_points.txt``; return its path."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": (body or f"VERSION = {version!r}\n").encode(),
        **{path: text.encode() for path, text in (extra or {}).items()},
        f"{dist_info}/METADATA": (f"Metadata-Version: 2.1\nName: {name}\n"
                                  f"Version: {version}\n").encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n",
    }
    if entry_points:
        files[f"{dist_info}/entry_points.txt"] = entry_points.encode()
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{dist_info}/RECORD,,\n"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in files.items():
            zf.writestr(member, data)
        zf.writestr(f"{dist_info}/RECORD", record)
    return path


@dataclass
class PackageIndex:
    """A running simple index: ``url`` ends in ``/simple/`` (with the credentials in it
    when the index wants them); ``requested`` lists the paths asked, in order."""

    url: str
    requested: list[str] = field(default_factory=list)


def _project(wheel: Path) -> str:
    """The PEP 503 normalised project name of a wheel file."""
    return wheel.name.split("-", 1)[0].lower().replace("_", "-").replace(".", "-")


@contextmanager
def serve_package_index(wheels: Iterable[Path], *,
                        auth: tuple[str, str] | None = None) -> Iterator[PackageIndex]:
    """Serve ``wheels`` as a PEP 503 index on 127.0.0.1 for the ``with`` block; with
    ``auth`` (user, password) every request without those HTTP Basic credentials gets 401."""
    by_name = {wheel.name: wheel for wheel in wheels}
    projects: dict[str, list[str]] = {}
    for wheel in by_name.values():
        projects.setdefault(_project(wheel), []).append(wheel.name)
    expected = ("Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
                if auth else None)
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self._answer(head=True)

        def do_GET(self) -> None:
            self._answer(head=False)

        def _answer(self, head: bool) -> None:
            requested.append(self.path)
            if expected is not None and self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="index"')
                self.end_headers()
                return
            parts = self.path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "simple" and parts[1] in projects:
                body = "".join(f'<a href="/files/{quote(name)}">{html.escape(name)}</a>\n'
                               for name in projects[parts[1]]).encode()
                content_type = "text/html"
            elif len(parts) == 2 and parts[0] == "files" and parts[1] in by_name:
                body, content_type = by_name[parts[1]].read_bytes(), "application/octet-stream"
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, name="package-index", daemon=True).start()
    userinfo = (f"{quote(auth[0], safe='')}:{quote(auth[1], safe='')}@" if auth else "")
    try:
        yield PackageIndex(f"http://{userinfo}127.0.0.1:{server.server_port}/simple/",
                           requested)
    finally:
        server.shutdown()
        server.server_close()


__all__ = ["PackageIndex", "build_wheel", "serve_package_index"]
