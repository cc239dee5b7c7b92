"""The node's secret key file: made once, atomically, even when many threads or processes
need it at the same moment; a damaged one is named in the error."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from stowflow.blocks import crypto


def test_first_use_from_many_threads_never_reads_a_half_written_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before the fix the key file was created empty and then written: a thread that found it
    # in between read b"" and failed with "not a valid Fernet key" (85 of 300 rounds here).
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    failures: list[str] = []
    try:
        for round_ in range(60):
            monkeypatch.setenv("STOWFLOW_HOME", str(tmp_path / f"home-{round_}"))
            barrier = threading.Barrier(8)
            keys: list[bytes] = []

            def use_key(barrier: threading.Barrier = barrier, keys: list[bytes] = keys) -> None:
                barrier.wait()
                try:
                    keys.append(crypto._key())
                    crypto.encrypt_json({"a": 1})
                except Exception as exc:  # collected and asserted below
                    failures.append(repr(exc))

            threads = [threading.Thread(target=use_key) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            assert len(set(keys)) <= 1, "threads disagreed on the key"
    finally:
        sys.setswitchinterval(old)
    assert failures == []


def test_key_file_is_private(stowflow_home: Path) -> None:
    crypto.encrypt_json({"a": 1})
    key_file = stowflow_home / crypto.KEY_FILE_NAME
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert not [p for p in stowflow_home.iterdir() if p.name.startswith(".secret.key-")]


def test_damaged_key_file_is_named(stowflow_home: Path, fails_cleanly,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (stowflow_home / crypto.KEY_FILE_NAME).write_text("garbage")
    message = fails_cleanly("block", "create", "secret", "s",
                            stdin="a-secret-value\n")
    assert str(stowflow_home / crypto.KEY_FILE_NAME) in message
    assert "restore the key" in message
    assert (stowflow_home / crypto.KEY_FILE_NAME).read_text() == "garbage"


def test_bad_environment_key_is_named(monkeypatch: pytest.MonkeyPatch, fails_cleanly) -> None:
    monkeypatch.setenv("STOWFLOW_SECRET_KEY", "not a fernet key @:/%#+ x")
    message = fails_cleanly("block", "create", "secret", "s",
                            stdin="a-secret-value\n")
    assert message.startswith("Error: STOWFLOW_SECRET_KEY is not a valid Fernet key")
    assert "not a fernet key" not in message
