"""Smoke tests of the smart-HTTP git server fixture itself (with plain git as the client)."""

from __future__ import annotations

import base64
import gzip
import http.client
import os
import subprocess
from pathlib import Path

from stowflow.testing.servers.git_http import GitHTTPServer


def _git(*args: str, header: str | None = None, cwd: Path | None = None,
         ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_TERMINAL_PROMPT"] = "0"
    if header:
        env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="http.extraHeader",
                   GIT_CONFIG_VALUE_0=header)
    return subprocess.run(["git", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=60)


def _basic(user: str, password: str) -> str:
    return "Authorization: Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_public_clone_and_request_log(git_remote: GitHTTPServer, tmp_path: Path) -> None:
    repo = git_remote.create_repo(files={"a.txt": "hello", "sub/b.txt": "b"})
    result = _git("clone", "--depth", "1", repo.url, str(tmp_path / "c"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c" / "sub" / "b.txt").read_text() == "b"
    log = git_remote.requests_for(repo)
    assert log and all(r.status == 200 for r in log)
    assert git_remote.fetch_count(repo) >= 1
    assert log[0].git_protocol == "version=2"


def test_basic_auth_accepts_exactly_the_configured_pair(git_remote: GitHTTPServer) -> None:
    repo = git_remote.create_repo(files={"a.txt": "x"})
    git_remote.accept({("oauth2", "s3cret-token")})
    assert _git("ls-remote", repo.url).returncode != 0
    assert _git("ls-remote", repo.url, header=_basic("someone", "s3cret-token")).returncode != 0
    ok = _git("ls-remote", repo.url, header=_basic("oauth2", "s3cret-token"))
    assert ok.returncode == 0, ok.stderr
    assert repo.rev_parse() in ok.stdout
    users = [r.user for r in git_remote.requests_for(repo)]
    assert users == [None, "someone", "oauth2", "oauth2"]
    statuses = [r.status for r in git_remote.requests_for(repo)]
    assert statuses[:2] == [401, 401]


def test_repo_helpers_branches_tags_and_names_without_dot_git(git_remote: GitHTTPServer) -> None:
    repo = git_remote.create_repo("team/project", {"a.txt": "1"})
    first = repo.rev_parse()
    second = repo.commit({"a.txt": "2"}, "second")
    assert second != first
    assert repo.create_branch("release", first) == first
    assert repo.tag("v1", "release") == first
    out = _git("ls-remote", repo.url.removesuffix(".git"))
    assert out.returncode == 0, out.stderr
    assert f"{second}\trefs/heads/main" in out.stdout
    assert f"{first}\trefs/heads/release" in out.stdout
    assert "refs/tags/v1^{}" in out.stdout


def _pkt(line: str) -> bytes:
    data = line.encode()
    return f"{len(data) + 4:04x}".encode() + data


def test_chunked_gzip_protocol_v2_request(git_remote: GitHTTPServer) -> None:
    # git sends big request bodies chunked and gzipped; the server must decode both.
    repo = git_remote.create_repo(files={"a.txt": "1"})
    body = gzip.compress(_pkt("command=ls-refs\n") + b"0001" + _pkt("symrefs\n") + b"0000")
    conn = http.client.HTTPConnection("127.0.0.1", git_remote.port, timeout=30)
    conn.putrequest("POST", f"/{repo.name}.git/git-upload-pack")
    for key, value in {"Content-Type": "application/x-git-upload-pack-request",
                       "Content-Encoding": "gzip", "Transfer-Encoding": "chunked",
                       "Git-Protocol": "version=2"}.items():
        conn.putheader(key, value)
    conn.endheaders()
    for i in range(0, len(body), 7):
        piece = body[i:i + 7]
        conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    conn.send(b"0\r\n\r\n")
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    assert response.status == 200
    assert f"{repo.rev_parse()} refs/heads/main".encode() in payload
    assert git_remote.requests_for(repo)[-1].git_protocol == "version=2"
