"""Failure classification: git's stderr to one clear, redacted error; retries only when useful."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from stowflow.errors import (
    GitAuthError,
    GitError,
    GitRefNotFoundError,
    GitRepositoryNotFoundError,
    GitTimeoutError,
    GitUnreachableError,
)
from stowflow.git.classify import GitCorruptionError, classify, is_retryable, stderr_tail
from stowflow.redact import register_secret
from stowflow.storage import GitRepository
from stowflow.testing.servers.git_http import GitHTTPServer

SAMPLES = [
    ("fatal: Authentication failed for 'https://h/o/r.git/'", GitAuthError),
    ("fatal: could not read Username for 'https://h': terminal prompts disabled", GitAuthError),
    ("fatal: unable to access 'https://h/o/r.git/': The requested URL returned error: 403",
     GitAuthError),
    ("git@h: Permission denied (publickey).\nfatal: Could not read from remote repository.",
     GitAuthError),
    ("remote: Repository not found.\nfatal: repository 'https://h/o/r.git/' not found",
     GitRepositoryNotFoundError),
    ("fatal: couldn't find remote ref refs/heads/nope", GitRefNotFoundError),
    ("fatal: remote error: upload-pack: not our ref 0123456789abcdef", GitRefNotFoundError),
    ("fatal: unable to access 'https://h/': Could not resolve host: h", GitUnreachableError),
    ("fatal: unable to access 'http://127.0.0.1:9/x/': Failed to connect to 127.0.0.1 port 9",
     GitUnreachableError),
    ("error: RPC failed; curl 56 Recv failure: Connection reset by peer\nfatal: early EOF",
     GitUnreachableError),
    ("fatal: unable to access 'https://h/': The requested URL returned error: 503",
     GitUnreachableError),
    ("fatal: unable to access 'https://h/': Operation too slow. Less than 1 bytes/sec",
     GitTimeoutError),
    ("error: packfile .git/objects/pack/pack-1.pack does not match index\n"
     "fatal: bad object HEAD", GitCorruptionError),
    ("fatal: not a git repository: '/cache/git/x'", GitCorruptionError),
    ("error: unable to read sha1 file of a.py (45b983be36b73c0788dc9cbcb76cbb80fc7bb057)",
     GitCorruptionError),  # checkout-index of a blob the mirror lost
    ("fatal: something nobody expected", GitError),
]


@pytest.mark.parametrize(("stderr", "kind"), SAMPLES)
def test_classify(stderr: str, kind: type[GitError]) -> None:
    error = classify("fetch of https://h/o/r.git", stderr, 128)
    assert type(error) is kind
    text = str(error)
    assert "\n" not in text and text.startswith("git fetch of https://h/o/r.git failed")
    assert error.hint
    assert is_retryable(error) is (kind in (GitUnreachableError, GitTimeoutError))


def test_stderr_tail_is_redacted_short_and_last() -> None:
    register_secret("s3cr3t-value-123")
    noise = "\n".join(f"line {i}" for i in range(50))
    tail = stderr_tail(noise + "\nhint: ignore me\nfatal: token s3cr3t-value-123 refused")
    assert tail == "line 48 | line 49 | fatal: token *** refused"
    assert len(stderr_tail("x" * 5000)) <= 401


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def test_a_hanging_host_times_out_and_is_retried(silent_server: int, workdir: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("STOWFLOW_GIT_TIMEOUT", "1")
    monkeypatch.setattr("stowflow.git.runner.RETRY_DELAYS", (0.1, 0.1))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="stowflow.git"), \
            pytest.raises(GitTimeoutError, match="timed out after 1s"):
        GitRepository(f"http://127.0.0.1:{silent_server}/org/repo.git").pull()
    assert 3 <= time.monotonic() - started < 30
    assert caplog.text.count("retrying") == 2


def test_auth_failures_are_not_retried(git_remote: GitHTTPServer, workdir: Path,
                                       caplog: pytest.LogCaptureFixture) -> None:
    repo = git_remote.create_repo(files={"a.txt": "1"})
    git_remote.accept(set())
    with caplog.at_level(logging.WARNING, logger="stowflow.git"), pytest.raises(GitAuthError):
        GitRepository(repo.url, credentials="some-token-1").pull()
    assert "retrying" not in caplog.text
    assert len(git_remote.requests_for(repo)) == 1
