"""stowflow quickstart --project never overwrites a user's files."""

from __future__ import annotations

from pathlib import Path

from stowflow.workers.pools import list_pools


def test_quickstart_refuses_to_overwrite_a_users_flow(tmp_path: Path, fails_cleanly) -> None:
    mine = tmp_path / "mine"
    (mine / "flows").mkdir(parents=True)
    (mine / "flows" / "hello.py").write_text("MY OWN FLOW\n")
    (mine / "README.md").write_text("MY README\n")
    message = fails_cleanly("quickstart", "--project", str(mine))
    assert "would overwrite" in message and "hello.py" in message
    assert (mine / "flows" / "hello.py").read_text() == "MY OWN FLOW\n"
    assert (mine / "README.md").read_text() == "MY README\n"
    assert list_pools() == []  # it stopped before doing anything


def test_quickstart_project_that_is_a_file(tmp_path: Path, fails_cleanly) -> None:
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    message = fails_cleanly("quickstart", "--project", str(target))
    assert "is a file, not a folder" in message
    assert target.read_text() == "keep me"
