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
    # Issue 19 item 4: it is now refused at once (it used to pass the walk and fail only
    # validation; anything that walked the data later expanded all 9**9 values).
    with pytest.raises(StowflowYamlError, match="expand to more than") as info:
        load_project(tmp_path / "stowflow.yaml")
    assert info.value.line is not None and info.value.line <= 9


@pytest.mark.timeout(60)
def test_an_alias_bomb_in_parameters_is_refused_with_its_line(tmp_path: Path,
                                                              fails_cleanly, monkeypatch) -> None:
    # Regression (issue 19 item 4): nested anchors in deployments[].parameters were
    # accepted (10**6 values here; the 9**10 of the report ran 50 s into a MemoryError).
    anchors = ["  p0: &p0 [1,2,3,4,5,6,7,8,9,10]"]
    for n in range(1, 6):
        anchors.append(f"  p{n}: &p{n} [" + ",".join([f"*p{n - 1}"] * 10) + "]")
    text = ("deployments:\n- name: d\n  entrypoint: f.py:f\n  parameters:\n"
            + "\n".join("  " + a for a in anchors) + "\n")
    (tmp_path / "stowflow.yaml").write_text(text)
    with pytest.raises(StowflowYamlError, match="expand to more than 100,000") as info:
        load_project(tmp_path / "stowflow.yaml")
    assert info.value.line == 9  # p4: the first value past the limit (111,111 values)
    monkeypatch.chdir(tmp_path)
    assert "stowflow.yaml:9" in fails_cleanly("deploy")


def test_shared_alias_still_works(tmp_path: Path) -> None:
    (tmp_path / "stowflow.yaml").write_text(
        "deployments:\n- {name: a, entrypoint: f.py:f, work_pool: &w {name: p}}\n"
        "- {name: b, entrypoint: f.py:f, work_pool: *w}\n")
    config = load_project(tmp_path / "stowflow.yaml")
    assert [d.work_pool.name for d in config.deployments] == ["p", "p"]
