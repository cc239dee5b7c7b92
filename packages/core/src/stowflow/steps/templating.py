"""``{{ placeholder }}`` templating of step arguments and deployment fields.

Placeholders:

- ``{{ step-id.key[.more] }}`` — an output of an earlier step;
- ``{{ stowflow.blocks.<type-slug>.<name>[.field...] }}`` — a saved block (its revealed
  data as a dict, or one field of it);
- ``{{ stowflow.variables.<name> }}`` — a variable;
- ``{{ $ENV_VAR }}`` — an environment variable.

A string that is exactly one placeholder becomes the value itself (a dict, a list, a
number); a placeholder inside longer text becomes text (JSON for dicts and lists).
Resolution is one pass: a resolved value is never templated again. A placeholder that
cannot be resolved raises :class:`~stowflow.errors.TemplateError` naming it and its step;
it never becomes an empty string.

``partial=True`` resolves only step-output references that the context knows and leaves
every other placeholder as written: deploy uses it to fill pull steps with push outputs
while blocks, variables and the environment stay unresolved until run time on the worker.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from stowflow.errors import MissingDistributionError, StowflowError, TemplateError
from stowflow.placeholders import BLOCK_PREFIX as _BLOCKS
from stowflow.placeholders import PLACEHOLDER, expressions

_VARIABLES = "stowflow.variables."
_UNRESOLVED = object()


class _Resolver:
    def __init__(self, context: Mapping[str, Any], step: str, partial: bool) -> None:
        self.context = context
        self.step = step
        self.partial = partial
        self.blocks: dict[str, dict[str, Any]] = {}

    def fail(self, expr: str, why: str, hint: str | None = None) -> TemplateError:
        where = f" in step '{self.step}'" if self.step else ""
        return TemplateError(f"cannot resolve '{{{{ {expr} }}}}'{where}: {why}", hint=hint)

    def lookup(self, expr: str) -> Any:
        """Return the value of one placeholder expression, or ``_UNRESOLVED`` when partial."""
        if not expr:
            if self.partial:
                return _UNRESOLVED
            raise self.fail(expr, "the placeholder is empty")
        if expr.startswith("$"):
            return self._env(expr)
        if expr.startswith(_BLOCKS):
            return _UNRESOLVED if self.partial else self._block(expr)
        if expr.startswith(_VARIABLES):
            return _UNRESOLVED if self.partial else self._variable(expr)
        return self._output(expr)

    def _env(self, expr: str) -> Any:
        if self.partial:
            return _UNRESOLVED
        name = expr[1:]
        value = os.environ.get(name)
        if value is None:
            raise self.fail(expr, f"environment variable '{name}' is not set")
        return value

    def _output(self, expr: str) -> Any:
        parts = expr.split(".")
        if parts[0] not in self.context:
            if self.partial:
                return _UNRESOLVED
            known = ", ".join(sorted(map(str, self.context))) or "none"
            raise self.fail(
                expr, f"no earlier step has id '{parts[0]}'", hint=f"step ids so far: {known}"
            )
        if len(parts) == 1:
            raise self.fail(expr, "name an output of the step, as in '{{ step-id.key }}'")
        return self._walk(expr, self.context[parts[0]], parts[1:], f"step '{parts[0]}'")

    def _walk(self, expr: str, value: Any, path: list[str], owner: str) -> Any:
        for key in path:
            if isinstance(value, Mapping) and key in value:
                value = value[key]
            elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                available = ", ".join(sorted(map(str, value))) if isinstance(value, Mapping) else ""
                raise self.fail(
                    expr, f"{owner} has no '{key}'",
                    hint=f"available: {available}" if available else None,
                )
        return value

    def _block(self, expr: str) -> Any:
        parts = expr[len(_BLOCKS):].split(".")
        if len(parts) < 2 or not all(parts[:2]):
            raise self.fail(expr, "a block reference is 'stowflow.blocks.<type-slug>.<name>[.field]'")
        slug, name, fields = parts[0], parts[1], parts[2:]
        ref = f"{slug}/{name}"
        if ref not in self.blocks:
            from stowflow.blocks import Block

            try:
                self.blocks[ref] = Block.load(ref).revealed_data()
            except MissingDistributionError as exc:
                raise TemplateError(
                    f"cannot resolve '{{{{ {expr} }}}}'"
                    f"{f' in step {self.step!r}' if self.step else ''}: block type '{slug}' "
                    f"needs the '{exc.distribution}' package, which is not installed",
                    hint=f"pip install {exc.distribution}",
                ) from exc
            except StowflowError as exc:
                raise self.fail(expr, exc.message, hint=exc.hint) from exc
        return self._walk(expr, self.blocks[ref], fields, f"block '{ref}'")

    def _variable(self, expr: str) -> Any:
        parts = expr[len(_VARIABLES):].split(".")
        if not parts[0]:
            raise self.fail(expr, "a variable reference is 'stowflow.variables.<name>'")
        from stowflow.variables import get_variable

        try:
            value = get_variable(parts[0])
        except StowflowError as exc:
            raise self.fail(expr, exc.message, hint=exc.hint) from exc
        return self._walk(expr, value, parts[1:], f"variable '{parts[0]}'")

    def text(self, value: str) -> Any:
        whole = PLACEHOLDER.fullmatch(value)
        if whole is not None:
            found = self.lookup(whole.group(1))
            return value if found is _UNRESOLVED else found

        def substitute(match: re.Match[str]) -> str:
            found = self.lookup(match.group(1))
            if found is _UNRESOLVED:
                return match.group(0)
            if isinstance(found, str):
                return found
            return json.dumps(found, default=str)

        return PLACEHOLDER.sub(substitute, value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value) if "{{" in value else value
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def resolve(
    value: Any, context: Mapping[str, Any] | None = None, *, step: str = "", partial: bool = False
) -> Any:
    """Return ``value`` (a string, or dicts and lists of them) with placeholders resolved.

    ``context`` maps step ids to their outputs; ``step`` names the step for error
    messages. With ``partial``, only known step outputs are filled in and every other
    placeholder is kept as written. Raises :class:`TemplateError` for a placeholder that
    cannot be resolved.
    """
    return _Resolver(context or {}, step, partial).value(value)


def placeholders(value: Any) -> list[str]:
    """Return every placeholder expression in ``value`` (strings, dicts and lists), in order."""
    return list(expressions(value))
