"""EXTRA_PIP_PACKAGES from a private index whose URL carries credentials: installed, never leaked."""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from stowflow.envs import layers as envlayer
from stowflow.testing import assert_no_secret

sys.path.insert(0, str(Path(__file__).parents[1] / "workers"))
from wheels import build_wheel

USER, TOKEN = "deploy", "idx-T0ken/with+chars"


@pytest.fixture
def private_index(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A PEP 503 simple index on 127.0.0.1 that answers only HTTP Basic deploy:TOKEN."""
    wheel = build_wheel(tmp_path, "privpkg", "1.2", body="ANSWER = 42\n")
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.do_GET(head=True)

        def do_GET(self, head: bool = False) -> None:
            seen.append(self.path)
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="index"')
                self.end_headers()
                return
            if self.path.rstrip("/") == "/simple/privpkg":
                body = f'<a href="/files/{wheel.name}">{wheel.name}</a>'.encode()
                content_type = "text/html"
            elif self.path == f"/files/{wheel.name}":
                body, content_type = wheel.read_bytes(), "application/octet-stream"
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
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    quoted = TOKEN.replace("/", "%2F").replace("+", "%2B")
    url = f"http://{USER}:{quoted}@127.0.0.1:{server.server_port}/simple/"
    try:
        yield url, seen
    finally:
        server.shutdown()


def test_index_credentials_reach_the_installer_but_not_argv_or_disk(
    private_index: tuple[str, list[str]], stowflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = private_index
    argvs: list[list[str]] = []
    real_run = subprocess.run

    def recording_run(argv, *args, **kwargs):  # the real installer still runs
        argvs.append(list(argv))
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr(envlayer.subprocess, "run", recording_run)
    packages = envlayer.parse_packages(f"--index-url {url} privpkg==1.2")
    layer = envlayer.ensure_layer(packages)

    assert layer.built and (layer.path / "privpkg" / "__init__.py").read_text() == "ANSWER = 42\n"
    assert any(path.startswith("/files/") for path in seen)  # it really came from the index
    quoted = url.split(":", 2)[2].split("@")[0]
    for secret in (TOKEN, quoted):
        assert_no_secret(secret, [" ".join(a) for a in argvs], stowflow_home,
                         " ".join(envlayer.masked(packages)))
    assert "***@127.0.0.1" in " ".join(envlayer.masked(packages))


def test_a_failed_private_install_names_the_packages_without_the_token(
    private_index: tuple[str, list[str]],
) -> None:
    url, _ = private_index
    packages = envlayer.parse_packages(f"--index-url {url} privpkg==9.9")
    from stowflow.errors import RunError

    with pytest.raises(RunError) as info:
        envlayer.ensure_layer(packages)
    assert "privpkg==9.9" in str(info.value)
    assert_no_secret(TOKEN, str(info.value))
    assert_no_secret(url.split(":", 2)[2].split("@")[0], str(info.value))


def test_requirements_lines_keep_option_values_together() -> None:
    assert envlayer.requirements_lines(["-i", "https://x/simple", "a==1", "--extra-index-url",
                                        "https://y", "b"]) == [
        "-i https://x/simple", "a==1", "--extra-index-url https://y", "b"]
