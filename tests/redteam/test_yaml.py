"""stowflow.yaml with YAML aliases: a recursive one is a clear error, a wide one is quick."""

from __future__ import annotations

from pathlib import Path

import pytest
from stowflow.deployments.project import load_project
from stowflow.deployments.yamlfile import StowflowYamlError


@pytest.mark.parametrize("text", ["&a [*a]", "x: &a\n  y: *a\n",
                                  "deployments:\n- &d {name: a, entrypoint: f.py:f, tags: [*d]}\n"])
def test_recursive_alias(tmp_path: Path, text: str, fails_cleanly, monkeypatch) -> None:
    # was an unexpected RecursionError
    (tmp_path / "stowflow.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    message = fails_cleanly("deploy")
    assert "an alias refers to the value that contains it" in message


@pytest.mark.timeout(30)
def test_billion_laughs_is_not_walked_exponentially(tmp_path: Path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    prev = "a"
    for name in "bcdefghi":  # 9**9 paths if every alias were walked again
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    (tmp_path / "stowflow.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(StowflowYamlError, match="Extra inputs are not permitted"):
        load_project(tmp_path / "stowflow.yaml")


def test_shared_alias_still_works(tmp_path: Path) -> None:
    (tmp_path / "stowflow.yaml").write_text(
        "deployments:\n- {name: a, entrypoint: f.py:f, work_pool: &w {name: p}}\n"
        "- {name: b, entrypoint: f.py:f, work_pool: *w}\n")
    config = load_project(tmp_path / "stowflow.yaml")
    assert [d.work_pool.name for d in config.deployments] == ["p", "p"]
