"""storage pull into a destination whose folder cannot be written: one clear error."""

from __future__ import annotations

from pathlib import Path

from stowflow.cli.app import main


def test_pull_below_a_regular_file(tmp_path: Path, fails_cleanly, capsys) -> None:
    src = tmp_path / "src"
    (src / "flows").mkdir(parents=True)
    (src / "flows" / "etl.py").write_text("print('hi')\n")
    url = f"file://{tmp_path / 'store' / 'code'}"
    assert main(["storage", "push", str(src), url]) == 0, capsys.readouterr().err
    capsys.readouterr()
    blocker = tmp_path / "blocker.txt"
    blocker.write_text("keep")
    # was: Error: unexpected FileExistsError / FileNotFoundError from the staging folder
    message = fails_cleanly("storage", "pull", url, str(blocker / "dest"))
    assert f"cannot pull into '{blocker / 'dest'}'" in message
    assert "pull into a folder you can write to" in message
    assert blocker.read_text() == "keep"
    assert main(["storage", "pull", url, str(tmp_path / "ok")]) == 0
    assert (tmp_path / "ok" / "flows" / "etl.py").read_text() == "print('hi')\n"
