"""AST metadata: the same name and schema as importing the flow, without importing it."""

from __future__ import annotations

import pytest
from stowflow.errors import FlowError
from stowflow.flows import load_flow_from_entrypoint, read_flow_metadata
from stowflow.flows.metadata import read_source_metadata

SOURCE = '''
from __future__ import annotations
import datetime
import typing
from typing import Optional, Literal
from stowflow import flow
import stowflow

@stowflow.flow(name="report", version=7, description="Daily report.")
async def make_report(day: datetime.date, region: Optional[str] = None,
                      fmt: Literal["pdf", "html"] = "pdf", pages: list[int] = [1, 2],
                      ratio: float | None = 0.5, flags: typing.Dict[str, bool] = {},
                      *, dry_run: bool = False, **extra):
    pass

@flow
def plain_defaults(a: int, b: "str" = "x", c: int = 1 + 1, d=None):
    """First line.

    More text."""

class Holder:
    def method(self, x: int) -> None:
        pass

def unsafe(a: __import__("os").system("echo pwned") = 1, b: list[2**100] = None):
    pass
'''


def test_decorator_options_and_docstring() -> None:
    meta = read_source_metadata(SOURCE, "make_report")
    assert (meta.name, meta.version, meta.description) == ("report", "7", "Daily report.")
    assert meta.parameters.accepts_extra
    plain = read_source_metadata(SOURCE, "plain_defaults")
    assert plain.name == "plain-defaults" and plain.description.startswith("First line.")


def test_schema_matches_the_imported_flow(tmp_path) -> None:
    (tmp_path / "f.py").write_text(SOURCE)
    from_ast = read_flow_metadata("f.py:make_report", tmp_path).parameters.schema()
    imported = load_flow_from_entrypoint("f.py:make_report", tmp_path).parameter_schema
    assert from_ast == imported
    from_ast = read_flow_metadata("f.py:plain_defaults", tmp_path).parameters.schema()
    imported = load_flow_from_entrypoint("f.py:plain_defaults", tmp_path).parameter_schema
    # the one known difference: a default that is an expression, not a literal, is not
    # computed from source (it would mean running the file)
    assert imported["properties"]["c"].pop("default") == 2
    assert from_ast == imported


def test_non_literal_default_is_optional_without_a_default() -> None:
    schema = read_source_metadata(SOURCE, "plain_defaults").parameters.schema()
    assert schema["required"] == ["a"]
    assert "default" not in schema["properties"]["c"]
    assert schema["properties"]["b"] == {"default": "x", "title": "b", "type": "string"}


def test_unsafe_annotations_are_never_evaluated(capfd) -> None:
    meta = read_source_metadata(SOURCE, "unsafe")
    assert meta.parameters.schema()["properties"]["a"].get("type") is None
    assert "pwned" not in capfd.readouterr().out


def test_methods_by_dotted_name() -> None:
    assert read_source_metadata(SOURCE, "Holder.method").parameters.names == ["self", "x"]


@pytest.mark.parametrize(("source", "function", "message"), [
    ("def f(:\n", "f", "syntax error in <source> line 1"),
    ("x = 1\n", "f", "no function 'f' is defined"),
    ("class A:\n    pass\n", "B.f", "no function 'B.f'"),
    ("\0", "f", "cannot parse|syntax error"),
])
def test_errors(source, function, message) -> None:
    with pytest.raises(FlowError, match=message):
        read_source_metadata(source, function)


def test_installed_module_without_source(tmp_path) -> None:
    with pytest.raises(FlowError, match="has no Python source"):
        read_flow_metadata("sys:exit", tmp_path)
