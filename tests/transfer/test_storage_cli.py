"""``stowflow storage``: every command end to end against a file:// store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from stowflow.cli.app import main
from stowflow.testing.conformance import read_tree, write_tree


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_storage_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"file://{tmp_path}/store/proj"
    src = tmp_path / "src"
    write_tree(src, {"flow.py": b"v1\n", "lib/util.py": b"u\n", ".git/HEAD": b"x"})

    code, out, _ = run(capsys, "storage", "push", str(src), url, "--dry-run")
    assert code == 0 and "flow.py" in out and ".git" not in out and "2 files" in out
    assert not (tmp_path / "store").exists()

    code, out, _ = run(capsys, "storage", "push", str(src), url)
    assert code == 0 and "new version" in out
    v1 = re.search(r"[0-9a-f]{64}", out).group(0)  # type: ignore[union-attr]
    write_tree(src, {"flow.py": b"v2\n"})
    code, out, _ = run(capsys, "storage", "push", str(src), url)
    v2 = re.search(r"[0-9a-f]{64}", out).group(0)  # type: ignore[union-attr]
    assert v2 != v1 and "1 files already there" in out

    code, out, _ = run(capsys, "storage", "versions", url)
    assert code == 0 and f"* {v2}" in out and f"  {v1}" in out

    code, out, _ = run(capsys, "storage", "ls", url)
    assert "flow.py" in out and "lib/util.py" in out

    code, out, _ = run(capsys, "storage", "pull", url, str(tmp_path / "dest"))
    assert code == 0 and v2 in out
    assert read_tree(tmp_path / "dest")["flow.py"] == (b"v2\n", False)

    code, out, _ = run(capsys, "storage", "pull", url, str(tmp_path / "old"), "--version", v1)
    assert read_tree(tmp_path / "old")["flow.py"] == (b"v1\n", False)

    code, out, _ = run(capsys, "storage", "rollback", url, v1)
    assert code == 0
    run(capsys, "storage", "pull", url, str(tmp_path / "dest"))
    assert read_tree(tmp_path / "dest")["flow.py"] == (b"v1\n", False)

    code, out, _ = run(capsys, "storage", "gc", url, "--keep", "1")
    assert code == 0 and "Kept 2 versions" in out  # the newest and HEAD

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/keep.txt").write_text("mine")
    code, _, err = run(capsys, "storage", "pull", url, str(tmp_path / "mine"))
    assert code == 1 and "refusing to replace" in err and "Traceback" not in err
    assert (tmp_path / "mine/keep.txt").read_text() == "mine"


def test_errors_are_one_red_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "storage", "pull", f"file://{tmp_path}/nothing", str(tmp_path / "d"))
    assert code == 1 and "nothing at" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "storage", "versions", "nosuch://b/p")
    assert code == 1 and "no installed object store" in err


def test_credentials_never_on_the_command_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    url = f"file://{tmp_path}/store/proj"
    write_tree(tmp_path / "src", {"a.py": b"a"})
    code, _, err = run(capsys, "storage", "push", str(tmp_path / "src"), url,
                       "-o", "secret=plain-text-secret")
    assert code == 1 and "looks like a credential" in err and "plain-text-secret" not in err
    code, _, err = run(capsys, "storage", "push", str(tmp_path / "src"), url,
                       "--credentials", "secret/nope")
    assert code == 1 and "nope" in err

    from stowflow.blocks import Secret

    Secret(value="block-held-secret").save("store")
    code, out, _ = run(capsys, "storage", "push", str(tmp_path / "src"), url,
                       "--credentials", "secret/store")
    assert code == 0 and "new version" in out


def test_prune_cache(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "storage", "prune-cache", "--max-size", "1GB")
    assert code == 0 and "Removed 0 cached files" in out
    code, _, err = run(capsys, "storage", "prune-cache", "--max-size", "lots")
    assert code == 1 and "expected a size" in err
