"""``stowflow migrate prefect`` on the command line, ``.prefectignore`` and the hint that
``stowflow deploy`` gives in a folder with a prefect.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
from stowflow.cli.app import main
from stowflow.transfer.ignore import walk

FILES = Path(__file__).parent / "prefect_files"
INCOMPLETE = """\
pull:
- prefect.deployments.steps.mystery_step: {}
deployments: [{name: d, entrypoint: f.py:f}]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "prefect.yaml").write_text((FILES / "local.yaml").read_text().replace(
        "__DIRECTORY__", str(root)))
    monkeypatch.chdir(root)
    return root


def test_without_write_it_shows_the_file_and_writes_nothing(project: Path, capsys) -> None:
    assert main(["migrate", "prefect"]) == 0
    out = capsys.readouterr().out
    assert "stowflow.deployments.steps.set_working_directory" in out
    assert "1 translated" in out and "Nothing written" in out
    assert sorted(p.name for p in project.iterdir()) == ["prefect.yaml"]


def test_write_creates_stowflow_yaml_and_never_overwrites_unless_told(project: Path,
                                                                      capsys) -> None:
    assert main(["migrate", "prefect", "--write"]) == 0
    written = (project / "stowflow.yaml").read_text()
    assert written.startswith("# Migrated from prefect.yaml")
    (project / "stowflow.yaml").write_text("# my edits\n")

    assert main(["migrate", "prefect", "--write"]) == 1
    assert "stowflow.yaml already exists" in capsys.readouterr().err
    assert (project / "stowflow.yaml").read_text() == "# my edits\n"

    assert main(["migrate", "prefect", "--write", "--force"]) == 0
    body = (project / "stowflow.yaml").read_text().splitlines()[1:]  # below the dated header
    assert body == written.splitlines()[1:]
    assert (project / "stowflow.yaml.bak").read_text() == "# my edits\n"


def test_an_incomplete_translation_exits_1_and_is_written_only_when_allowed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prefect.yaml").write_text(INCOMPLETE)
    assert main(["migrate", "prefect"]) == 1
    assert "not translated" in capsys.readouterr().out
    assert main(["migrate", "prefect", "--write"]) == 1
    err = capsys.readouterr().err
    assert "1 part(s)" in err and "nothing was written" in err and "Traceback" not in err
    assert not (tmp_path / "stowflow.yaml").exists()
    assert main(["migrate", "prefect", "--write", "--allow-incomplete"]) == 0
    assert "line 2: pull[0]" in (tmp_path / "stowflow.yaml").read_text()


def test_flags_that_change_files_need_write(project: Path, capsys) -> None:
    assert main(["migrate", "prefect", "--rename-ignore"]) == 1
    assert "--rename-ignore changes files, so it needs --write" in capsys.readouterr().err


def test_bad_yaml_is_one_line_with_the_file_and_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prefect.yaml").write_text("deployments: [\n")
    assert main(["migrate", "prefect"]) == 1
    err = capsys.readouterr().err
    assert "prefect.yaml:2: invalid YAML" in err and "Traceback" not in err


def test_prefectignore_is_honoured_until_there_is_a_stowflowignore(project: Path,
                                                                     capsys) -> None:
    (project / "keep.py").write_text("x")
    (project / "secret.csv").write_text("x")
    (project / ".prefectignore").write_text("*.csv\n")
    assert "secret.csv" not in [f.relpath for f in walk(project)]

    assert main(["migrate", "prefect"]) == 0
    assert ".prefectignore is honoured" in capsys.readouterr().out
    assert main(["migrate", "prefect", "--write", "--rename-ignore"]) == 0
    assert not (project / ".prefectignore").exists()
    assert (project / ".stowflowignore").read_text() == "*.csv\n"
    assert "secret.csv" not in [f.relpath for f in walk(project)]

    (project / ".prefectignore").write_text("keep.py\n")  # a .stowflowignore wins
    assert "keep.py" in [f.relpath for f in walk(project)]


def test_deploy_in_a_prefect_project_says_how_to_migrate(project: Path, capsys) -> None:
    assert main(["deploy"]) == 1
    err = capsys.readouterr().err
    assert "there is a prefect.yaml" in err and "stowflow migrate prefect" in err
