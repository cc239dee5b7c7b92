"""Reading YAML with line numbers, so every error can point at the line it is about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from stowflow.errors import ConfigError

Location = tuple[str | int, ...]

#: The most values a document may hold once its aliases are expanded. An alias costs
#: nothing to parse, but whatever walks the data later (templating, JSON for the
#: database) sees every copy: nested anchors ("billion laughs") would take the machine.
MAX_EXPANDED_NODES = 100_000


class StowflowYamlError(ConfigError):
    """``stowflow.yaml`` is unreadable or invalid; carries the file, field and line."""

    def __init__(self, message: str, *, file: str, line: int | None = None,
                 field: str | None = None, hint: str | None = None) -> None:
        self.file, self.line, self.field = file, line, field
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}", hint=hint)


def _record_lines(node: yaml.Node, path: Location, lines: dict[Location, int],
                  file: str, seen: set[int] | None = None,
                  stack: frozenset[int] = frozenset()) -> None:
    # An alias is the very node of its anchor: each node is walked once (so aliases cannot
    # blow the walk up), and a node inside itself is a cycle that nothing could use.
    seen = set() if seen is None else seen
    if id(node) in stack:
        raise StowflowYamlError("invalid YAML: an alias refers to the value that contains it",
                                file=file, line=node.start_mark.line + 1)
    lines.setdefault(path, node.start_mark.line + 1)
    if id(node) in seen:
        return
    seen.add(id(node))
    stack = stack | {id(node)}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                child = (*path, key.value)
                lines[child] = key.start_mark.line + 1
                _record_lines(value, child, lines, file, seen, stack)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), lines, file, seen, stack)


def load_yaml_with_lines(text: str, file: str) -> tuple[Any, dict[Location, int]]:
    """Parse one YAML document; return ``(data, {path: line})``.

    ``path`` is the tuple of mapping keys and list indexes leading to a value (as pydantic
    reports error locations). Raises :class:`StowflowYamlError` for invalid YAML, with the
    line of the problem.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise StowflowYamlError(
            f"invalid YAML: {problem}", file=file, line=mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise StowflowYamlError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise StowflowYamlError("invalid YAML: nested too deeply", file=file) from None
    finally:
        loader.dispose()
    lines: dict[Location, int] = {}
    _record_lines(node, (), lines, file)
    _expanded_size(node, {}, file)
    return data, lines


def _expanded_size(node: yaml.Node, sizes: dict[int, int], file: str) -> int:
    """Count the values under ``node`` with every alias expanded (each node counted once,
    memoised); refuse at the first one whose expansion passes :data:`MAX_EXPANDED_NODES`."""
    if id(node) in sizes:
        return sizes[id(node)]
    size = 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            size += _expanded_size(key, sizes, file) + _expanded_size(value, sizes, file)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            size += _expanded_size(item, sizes, file)
    if size > MAX_EXPANDED_NODES:
        raise StowflowYamlError(
            f"invalid YAML: aliases here expand to more than {MAX_EXPANDED_NODES:,} values",
            file=file, line=node.start_mark.line + 1,
            hint="write the values out, or use fewer nested aliases")
    sizes[id(node)] = size
    return size


def line_of(lines: dict[Location, int], location: Location) -> int | None:
    """Return the line of ``location``, or of its nearest enclosing value that has one."""
    path = tuple(location)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def read_text(path: Path) -> str:
    """Read ``path`` as UTF-8; raise :class:`StowflowYamlError` if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StowflowYamlError(
            "no such file", file=str(path), hint="create one with 'stowflow init'"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StowflowYamlError(f"cannot read the file: {exc}", file=str(path)) from None
