"""Flow metadata read from source with ``ast`` — nothing is imported.

Deploying needs the flow's name, description, version and parameter schema, but not its
dependencies: this module parses the entrypoint's file and evaluates only annotations made
of builtins, ``typing`` and a few standard types. Any other annotation (a class from
pandas, or one defined in the file) counts as ``Any`` in the schema; the worker, which
imports the real function, still validates with the real types.
"""

from __future__ import annotations

import ast
import contextlib
import datetime
import decimal
import pathlib
import typing
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stowflow.errors import FlowError
from stowflow.flows.entrypoints import locate
from stowflow.flows.parameters import REQUIRED, UNKNOWN_DEFAULT, Parameters, ParameterSpec

_SAFE_NAMES: dict[str, Any] = {
    name: getattr(typing, name)
    for name in ("Any", "Optional", "Union", "List", "Dict", "Tuple", "Set", "FrozenSet",
                 "Literal", "Sequence", "Mapping", "Annotated")
}
_SAFE_NAMES.update({
    "str": str, "int": int, "float": float, "bool": bool, "bytes": bytes, "list": list,
    "dict": dict, "tuple": tuple, "set": set, "frozenset": frozenset, "None": None,
    "datetime": datetime.datetime, "date": datetime.date, "time": datetime.time,
    "timedelta": datetime.timedelta, "Path": pathlib.Path, "UUID": uuid.UUID,
    "Decimal": decimal.Decimal,
})
_SAFE_MODULES: dict[str, Any] = {
    "typing": typing, "datetime": datetime, "pathlib": pathlib, "uuid": uuid,
    "decimal": decimal,
}
_ALLOWED_NODES = (
    ast.Expression, ast.Name, ast.Attribute, ast.Subscript, ast.Tuple, ast.List, ast.Constant,
    ast.BinOp, ast.BitOr, ast.Load,
)


@dataclass(frozen=True)
class FlowMetadata:
    """What deploy needs to know about a flow, read from its source."""

    name: str
    function: str
    description: str | None
    version: str | None
    parameters: Parameters


def _eval_annotation(node: ast.expr | None) -> Any:
    if node is None:
        return Any
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "quoted" annotation
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return Any
    expression = ast.Expression(body=node)
    for child in ast.walk(expression):
        if not isinstance(child, _ALLOWED_NODES):
            return Any
        if isinstance(child, ast.Attribute) and not (
            isinstance(child.value, ast.Name) and child.value.id in _SAFE_MODULES
        ):
            return Any
        if isinstance(child, ast.Name) and child.id not in _SAFE_NAMES | _SAFE_MODULES:
            return Any
    try:
        code = compile(ast.fix_missing_locations(expression), "<annotation>", "eval")
        return eval(code, {"__builtins__": {}}, {**_SAFE_NAMES, **_SAFE_MODULES})
    except Exception:
        return Any


def _default(node: ast.expr | None) -> Any:
    if node is None:
        return REQUIRED
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return UNKNOWN_DEFAULT


def _flow_decorator(func: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, Any] | None:
    for decorator in func.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
        if name != "flow":
            continue
        options: dict[str, Any] = {}
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg in {"name", "description", "version"}:
                    with contextlib.suppress(ValueError, TypeError, SyntaxError):
                        options[keyword.arg] = ast.literal_eval(keyword.value)
        return options
    return None


def _parameters(flow_name: str, args: ast.arguments) -> Parameters:
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    specs = [
        ParameterSpec(arg.arg, _eval_annotation(arg.annotation), _default(default))
        for arg, default in zip(positional, defaults, strict=True)
    ]
    specs += [
        ParameterSpec(arg.arg, _eval_annotation(arg.annotation), _default(default))
        for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    return Parameters(flow_name, specs, accepts_extra=args.kwarg is not None)


def _find_function(tree: ast.Module, dotted: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    scope: list[ast.stmt] = tree.body
    *owners, name = dotted.split(".")
    for owner in owners:
        cls = next((n for n in scope if isinstance(n, ast.ClassDef) and n.name == owner), None)
        if cls is None:
            return None
        scope = cls.body
    for node in scope:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node
    return None


def find_flows(source: str) -> list[str]:
    """Return the names of the top-level ``@flow`` functions in Python ``source``.

    Source that does not parse has none.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return [
        node.name for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and _flow_decorator(node) is not None
    ]


def default_flow_name(function_name: str) -> str:
    """Return the flow name ``@flow`` gives a function by default (underscores to dashes)."""
    return function_name.replace("_", "-")


def read_source_metadata(source: str, function: str, *, filename: str = "<source>") -> FlowMetadata:
    """Return the :class:`FlowMetadata` of ``function`` defined in Python ``source``.

    Raises :class:`FlowError` for a syntax error or a function that is not defined there.
    """
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise FlowError(f"syntax error in {filename} line {exc.lineno}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise FlowError(f"cannot parse {filename}: {exc}") from None
    node = _find_function(tree, function)
    if node is None:
        raise FlowError(f"no function '{function}' is defined in {filename}")
    options = _flow_decorator(node) or {}
    name = options.get("name") if isinstance(options.get("name"), str) else None
    name = name or default_flow_name(node.name)
    description = options.get("description")
    if not isinstance(description, str):
        description = ast.get_docstring(node)
    version = options.get("version")
    return FlowMetadata(
        name=name,
        function=function,
        description=description,
        version=str(version) if version is not None else None,
        parameters=_parameters(name, node.args),
    )


def read_flow_metadata(entrypoint: str, root: str | Path) -> FlowMetadata:
    """Return the metadata of the flow at ``entrypoint`` under ``root``, without importing it.

    Raises :class:`FlowError` when the entrypoint is invalid, escapes ``root``, or names a
    function the file does not define.
    """
    found = locate(entrypoint, root)
    if found.path is None:
        raise FlowError(
            f"entrypoint {entrypoint!r}: module '{found.module}' has no Python source to read"
        )
    try:
        text = found.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError(f"entrypoint {entrypoint!r}: cannot read {found.path}: {exc}") from exc
    return read_source_metadata(text, found.function, filename=str(found.path))
