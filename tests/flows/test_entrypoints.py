"""Entrypoints: file and module forms, the source-root boundary, import failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from stowflow.errors import FlowError
from stowflow.flows import Flow, load_flow_from_entrypoint

FLOW_FILE = '''
from stowflow import flow
import helper

@flow(name="hello-flow", log_prints=True)
def hello(name: str = "World", times: int = 1) -> str:
    """Say hello."""
    return helper.greet(name) * times

def plain(x: int) -> int:
    return x + 1
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "etl.py").write_text(FLOW_FILE)
    (tmp_path / "flows" / "helper.py").write_text("def greet(n):\n    return f'hi {n}'\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text(
        "from stowflow import flow\n\n@flow\ndef job(a: int):\n    return a * 2\n"
    )
    return tmp_path


def test_file_entrypoint_loads_and_runs(project: Path) -> None:
    flow = load_flow_from_entrypoint("flows/etl.py:hello", project)
    assert isinstance(flow, Flow) and flow.name == "hello-flow"
    assert flow(name="x", times="2") == "hi xhi x"
    assert flow.validate_parameters({"times": "3"}) == {"name": "World", "times": 3}


def test_module_entrypoint_under_the_root(project: Path) -> None:
    flow = load_flow_from_entrypoint("pkg.mod:job", project)
    assert flow.name == "job" and flow(a=4) == 8


def test_plain_function_is_wrapped(project: Path) -> None:
    flow = load_flow_from_entrypoint("flows/etl.py:plain", project)
    assert flow.name == "plain" and flow(x="1") == 2


def test_installed_module_entrypoint(project: Path) -> None:
    flow = load_flow_from_entrypoint("stowflow.steps.utility_steps:set_working_directory", project)
    assert flow.parameters.names == ["directory"]


@pytest.mark.parametrize(
    ("entrypoint", "message"),
    [
        ("no-colon", "invalid entrypoint"),
        ("flows/etl.py:", "invalid entrypoint"),
        ("flows/etl.py:not-an-identifier", "invalid entrypoint"),
        ("../outside.py:f", "resolves outside the source root"),
        ("flows/../../outside.py:f", "resolves outside the source root"),
        ("/etc/passwd.py:f", "must be a relative path"),
        ("flows\\etl.py:hello", "must be a relative path"),
        ("flows/missing.py:f", "no file 'flows/missing.py'"),
        ("flows/etl.py:missing", "'missing' is not defined"),
        ("no_such_pkg_xyz.mod:f", "neither under"),
        ("bad-name.mod:f", "is not a module name"),
    ],
)
def test_entrypoint_errors(project: Path, entrypoint: str, message: str) -> None:
    with pytest.raises(FlowError, match=message):
        load_flow_from_entrypoint(entrypoint, project)


def test_symlink_out_of_the_root_is_refused(project: Path, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "evil.py"
    outside.write_text("def f():\n    pass\n")
    (project / "link.py").symlink_to(outside)
    with pytest.raises(FlowError, match="outside the source root"):
        load_flow_from_entrypoint("link.py:f", project)


def test_missing_dependency_is_named(project: Path) -> None:
    (project / "needs.py").write_text("import pandas_not_installed_xyz\n\ndef f():\n    pass\n")
    with pytest.raises(FlowError, match="pandas_not_installed_xyz") as info:
        load_flow_from_entrypoint("needs.py:f", project)
    assert "EXTRA_PIP_PACKAGES" in str(info.value)


def test_syntax_error_is_reported_with_the_line(project: Path) -> None:
    (project / "broken.py").write_text("def f(:\n    pass\n")
    with pytest.raises(FlowError, match=r"syntax error .* line 1"):
        load_flow_from_entrypoint("broken.py:f", project)


def test_module_raising_on_import_is_a_flow_error(project: Path) -> None:
    (project / "raises.py").write_text("raise ValueError('no config')\n")
    with pytest.raises(FlowError, match="raised ValueError: no config"):
        load_flow_from_entrypoint("raises.py:f", project)


def test_not_a_function(project: Path) -> None:
    (project / "const.py").write_text("VALUE = 3\n")
    with pytest.raises(FlowError, match="is not a function"):
        load_flow_from_entrypoint("const.py:VALUE", project)
