"""Real-server fixture: git's own smart-HTTP server (``git http-backend``) with Basic auth.

A small threaded HTTP server on 127.0.0.1 runs ``git http-backend`` (CGI) for every request,
so clients speak the real smart-HTTP protocol (v2 through the ``Git-Protocol`` header,
chunked and gzip request bodies, partial-clone filters, fetch by commit id). In front of it
the server enforces HTTP Basic against a set of accepted ``(username, password)`` pairs and
records every request, so tests can prove which credentials were sent and count fetches.

Fixtures:

- ``git_server`` (session): the :class:`GitHTTPServer`. It starts **public** (no auth).
- ``git_remote`` (per test): the same server, reset to public with an empty request log;
  use it in tests so that one test's ``accept`` never leaks into the next.

Accepting exactly one credential form (what a provider plugin's tests need)::

    def test_gitlab_token(git_remote):
        git_remote.accept({("oauth2", "glpat-secret")})   # only this pair gets in
        repo = git_remote.create_repo("group/project", {"flow.py": "print(1)"})
        ...  # a pull with the right block succeeds; any other username fails with 401
        assert git_remote.requests_for(repo)[-1].user == "oauth2"

``accept(None)`` makes the server public again; ``accept(set())`` refuses everyone.
``speak_legacy()`` makes it answer like an old self-hosted server (protocol v0 only, no
commit fetched by its id).
Unauthenticated requests to a private server get ``401`` with a ``WWW-Authenticate: Basic``
challenge, like GitHub, GitLab and Bitbucket. Repositories are bare repositories under
:attr:`GitHTTPServer.root`; :class:`BareRepo` makes commits, branches, tags and submodules
in them without going through the network.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

#: Settings for the server side: partial clone, fetch by any commit id, v2.
_SERVER_GIT_CONFIG = {
    "uploadpack.allowFilter": "true",
    "uploadpack.allowAnySHA1InWant": "true",
    "uploadpack.allowReachableSHA1InWant": "true",
    "safe.directory": "*",
    "protocol.version": "2",
}

_AUTHOR_ENV = {
    "GIT_AUTHOR_NAME": "Stowflow Test",
    "GIT_AUTHOR_EMAIL": "test@stowflow.invalid",
    "GIT_COMMITTER_NAME": "Stowflow Test",
    "GIT_COMMITTER_EMAIL": "test@stowflow.invalid",
}


def _config_env(settings: Mapping[str, str]) -> dict[str, str]:
    env = {"GIT_CONFIG_COUNT": str(len(settings))}
    for i, (key, value) in enumerate(settings.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def _git(*args: str, cwd: Path | None = None, input: bytes | None = None,
         env: Mapping[str, str] | None = None) -> str:
    """Run a git command for fixture set-up; raise with its stderr on failure."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    full_env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", **_AUTHOR_ENV})
    full_env.update(_config_env({"init.defaultBranch": "main", "safe.directory": "*",
                                 "protocol.file.allow": "always"}))
    full_env.update(env or {})
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                          env=full_env, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode(errors="replace").strip()


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server answered."""

    method: str
    path: str
    query: str
    user: str | None
    status: int
    git_protocol: str | None
    host: str = ""

    @property
    def is_fetch(self) -> bool:
        """True for a request that can send a pack (``git-upload-pack`` POST)."""
        return self.method == "POST" and self.path.endswith("/git-upload-pack")


@dataclass
class BareRepo:
    """A bare repository served by :class:`GitHTTPServer`, with helpers to change it.

    Commits are made in a private work tree next to the bare repository and pushed into it
    over the file system, so setting up a test never goes through the HTTP server.
    """

    server: GitHTTPServer
    name: str
    path: Path
    work: Path

    @property
    def url(self) -> str:
        """The HTTP URL clients fetch (``http://127.0.0.1:PORT/<name>.git``)."""
        return f"{self.server.base_url}/{self.name}.git"

    def commit(self, files: Mapping[str, str | bytes | None], message: str = "change",
               branch: str = "main") -> str:
        """Write ``files`` (``None`` deletes) on ``branch``, commit, push; return the commit SHA."""
        self._switch(branch)
        for rel, content in files.items():
            target = self.work / rel
            if content is None:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        _git("add", "-A", cwd=self.work)
        _git("commit", "-q", "--allow-empty", "-m", message, cwd=self.work)
        return self._push(branch)

    def add_submodule(self, path: str, url: str, commit_sha: str, branch: str = "main") -> str:
        """Record a submodule at ``path`` (``url`` may be relative) pinned to ``commit_sha``.

        Writes ``.gitmodules`` and the gitlink directly, so nothing is fetched; returns the
        new commit SHA of this repository.
        """
        self._switch(branch)
        _git("config", "-f", ".gitmodules", f"submodule.{path}.path", path, cwd=self.work)
        _git("config", "-f", ".gitmodules", f"submodule.{path}.url", url, cwd=self.work)
        _git("update-index", "--add", "--cacheinfo", f"160000,{commit_sha},{path}",
             cwd=self.work)
        _git("add", ".gitmodules", cwd=self.work)
        _git("commit", "-q", "-m", f"submodule {path}", cwd=self.work)
        return self._push(branch)

    def create_branch(self, branch: str, start: str = "main") -> str:
        """Create ``branch`` at ``start`` in the served repository; return its SHA."""
        sha = self.rev_parse(start)
        _git("update-ref", f"refs/heads/{branch}", sha, cwd=self.path)
        return sha

    def tag(self, tag: str, ref: str = "main") -> str:
        """Create an annotated tag ``tag`` at ``ref``; return the tagged commit SHA."""
        sha = self.rev_parse(ref)
        _git("tag", "-a", "-m", tag, tag, sha, cwd=self.path)
        return sha

    def rev_parse(self, ref: str = "main") -> str:
        """Return the commit SHA ``ref`` names in the served repository."""
        return _git("rev-parse", f"{ref}^{{commit}}", cwd=self.path)

    def set_default_branch(self, branch: str) -> None:
        """Point the served repository's ``HEAD`` at ``branch``."""
        _git("symbolic-ref", "HEAD", f"refs/heads/{branch}", cwd=self.path)

    def _switch(self, branch: str) -> None:
        current = _git("symbolic-ref", "--short", "-q", "HEAD", cwd=self.work)
        if current == branch:
            return
        exists = _git("branch", "--list", branch, cwd=self.work)
        if exists:
            _git("checkout", "-q", branch, cwd=self.work)
        else:
            _git("checkout", "-q", "-b", branch, cwd=self.work)

    def _push(self, branch: str) -> str:
        _git("push", "-q", "--force", str(self.path), f"HEAD:refs/heads/{branch}",
             cwd=self.work)
        return _git("rev-parse", "HEAD", cwd=self.work)


@dataclass
class GitHTTPServer:
    """A smart-HTTP git server on 127.0.0.1 with switchable HTTP Basic auth."""

    root: Path
    port: int = 0
    accepted: frozenset[tuple[str, str]] | None = None  # None = public
    legacy: bool = False  # protocol v0 only, no fetch by commit id (old self-hosted servers)
    requests: list[RecordedRequest] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 0

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> GitHTTPServer:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="git-http",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (the repositories on disk are left to the caller)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    # --- auth and the request log -------------------------------------------------------

    def accept(self, pairs: set[tuple[str, str]] | frozenset[tuple[str, str]] | None) -> None:
        """Accept exactly these ``(username, password)`` pairs; ``None`` makes the server public."""
        with self._lock:
            self.accepted = None if pairs is None else frozenset(pairs)

    def speak_legacy(self, legacy: bool = True) -> None:
        """Serve like an old server: protocol v0 only, no commit fetched by its id."""
        with self._lock:
            self.legacy = legacy

    def reset(self) -> None:
        """Make the server public and modern again and forget the recorded requests."""
        with self._lock:
            self.accepted = None
            self.legacy = False
            self.requests.clear()

    def record(self, request: RecordedRequest) -> None:
        """Append one answered request to the log (called by the handler)."""
        with self._lock:
            self.requests.append(request)

    def requests_for(self, repo: BareRepo | str) -> list[RecordedRequest]:
        """Return the recorded requests whose path is in ``repo`` (a BareRepo or a name)."""
        name = repo.name if isinstance(repo, BareRepo) else repo
        prefix = f"/{name}.git/"
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def fetch_count(self, repo: BareRepo | str) -> int:
        """Return how many pack requests (``git-upload-pack`` POSTs) hit ``repo``."""
        return sum(1 for r in self.requests_for(repo) if r.is_fetch)

    # --- repositories -------------------------------------------------------------------

    def create_repo(self, name: str | None = None,
                    files: Mapping[str, str | bytes | None] | None = None,
                    message: str = "initial") -> BareRepo:
        """Create a bare repository ``<name>.git`` (unique name when omitted).

        With ``files``, makes a first commit on ``main``. Returns a :class:`BareRepo`.
        """
        with self._lock:
            self._counter += 1
            counter = self._counter
        name = name or f"org/repo-{counter}"
        path = self.root / f"{name}.git"
        if path.exists():
            raise ValueError(f"repository {name!r} already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        _git("init", "-q", "--bare", "-b", "main", str(path))
        work = self.root / "_work" / f"{name.replace('/', '__')}-{counter}"
        work.mkdir(parents=True)
        _git("init", "-q", "-b", "main", str(work))
        repo = BareRepo(server=self, name=name, path=path, work=work)
        if files:
            repo.commit(files, message)
        return repo


class _Handler(BaseHTTPRequestHandler):
    server_state: GitHTTPServer
    protocol_version = "HTTP/1.1"
    _status = 0

    def log_message(self, format: str, *args: object) -> None:
        pass  # the request log is kept in GitHTTPServer.requests instead

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _user(self) -> tuple[str | None, bool]:
        """Return (username sent, whether the request may proceed)."""
        state = self.server_state
        header = self.headers.get("Authorization", "")
        user = password = None
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode()
                user, _, password = decoded.partition(":")
            except ValueError:
                user = password = None
        accepted = state.accepted
        if accepted is None:
            return user, True
        return user, (user, password) in accepted

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size_line = self.rfile.readline().strip()
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        state = self.server_state
        path, _, query = self.path.partition("?")
        body = self._read_body() if self.command == "POST" else b""
        user, allowed = self._user()
        protocol = self.headers.get("Git-Protocol")
        if not allowed:
            self._reply(401, b"Authentication required\n",
                        {"WWW-Authenticate": 'Basic realm="stowflow-test-git"'})
        else:
            self._cgi(path, query, body, user)
        state.record(RecordedRequest(self.command, path, query, user, self._status,
                                     protocol, self.headers.get("Host", "")))

    def _cgi(self, path: str, query: str, body: bytes, user: str | None) -> None:
        state = self.server_state
        repo_path = path
        # Known hosts serve "org/repo" as well as "org/repo.git"; so does this server.
        for marker in ("/info/refs", "/git-upload-pack", "/git-receive-pack", "/HEAD"):
            prefix, found, rest = path.partition(marker)
            if found and not prefix.endswith(".git") and \
                    (state.root / f"{prefix[1:]}.git").is_dir():
                repo_path = f"{prefix}.git{found}{rest}"
                break
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        config = dict(_SERVER_GIT_CONFIG)
        if state.legacy:
            config.update({"uploadpack.allowAnySHA1InWant": "false",
                           "uploadpack.allowReachableSHA1InWant": "false",
                           "protocol.version": "0"})
        env.update(_config_env(config))
        env.update({
            "GIT_PROJECT_ROOT": str(state.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": repo_path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_USER": user or "",
            "SERVER_PROTOCOL": "HTTP/1.1",
        })
        if self.headers.get("Git-Protocol") and not state.legacy:
            env["HTTP_GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run(["git", "http-backend"], input=body, capture_output=True,
                              env=env, timeout=300)
        raw: bytes = proc.stdout
        head_bytes, sep, payload = raw.partition(b"\r\n\r\n")
        if not sep:
            head_bytes, sep, payload = raw.partition(b"\n\n")
        status, headers = 200, {}
        for line in head_bytes.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers[key.strip()] = value.strip()
        if proc.returncode != 0 and not sep:
            status, payload = 500, proc.stderr
        self._reply(status, payload, headers)

    def _reply(self, status: int, payload: bytes, headers: Mapping[str, str]) -> None:
        self._status = status
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in {"content-length", "transfer-encoding"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def start_git_server(root: Path | None = None) -> GitHTTPServer:
    """Start a :class:`GitHTTPServer` serving ``root`` (a new temp folder when omitted)."""
    if shutil.which("git") is None:  # a stated prerequisite: fail loudly, never skip
        raise RuntimeError("the git_server fixture needs git (apt-get install git)")
    root = root or Path(tempfile.mkdtemp(prefix="stowflow-git-"))
    return GitHTTPServer(root=root).start()


@pytest.fixture(scope="session")
def git_server() -> Iterator[GitHTTPServer]:
    """A smart-HTTP git server on 127.0.0.1 for the whole session (public at start)."""
    server = start_git_server()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def git_remote(git_server: GitHTTPServer) -> Iterator[GitHTTPServer]:
    """The session's git server, public and with an empty request log for this test."""
    git_server.reset()
    yield git_server
    git_server.reset()
