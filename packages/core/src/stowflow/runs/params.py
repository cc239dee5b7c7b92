"""Flow-run parameters: parse ``k=v`` pairs and validate them against a deployment's schema."""

from __future__ import annotations

import json
from typing import Any

from stowflow.errors import FlowError


def _declared_types(schema: dict[str, Any], name: str) -> set[str]:
    prop = (schema.get("properties") or {}).get(name) or {}
    types: set[str] = set()
    for candidate in [prop, *prop.get("anyOf", []), *prop.get("oneOf", [])]:
        kind = candidate.get("type") if isinstance(candidate, dict) else None
        if isinstance(kind, str):
            types.add(kind)
        elif isinstance(kind, list):
            types.update(kind)
    return types


def parse_param_pairs(pairs: list[str], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Turn ``["name=value", ...]`` into a dict.

    A value is read as JSON (``n=3``, ``flag=true``, ``xs=[1,2]``) unless the schema says the
    parameter is only a string, in which case it stays text exactly as typed (so ``id=007``
    is ``"007"``); text that is not JSON stays text. Raises FlowError on a pair without ``=``.
    """
    schema = schema or {}
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise FlowError(f"--param expects name=value, got {pair!r}", hint="e.g. --param n=3")
        if _declared_types(schema, key) == {"string"}:
            params[key] = raw
            continue
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def validate_parameters(parameters: dict[str, Any], schema: dict[str, Any], *,
                        where: str) -> None:
    """Check ``parameters`` against the JSON ``schema``; raise FlowError listing every problem.

    An empty schema accepts anything. ``where`` names the deployment in the message.
    """
    if not schema:
        return
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema)
    problems = sorted(validator.iter_errors(parameters), key=lambda e: list(e.absolute_path))
    if not problems:
        return
    lines = []
    for problem in problems:
        path = ".".join(str(p) for p in problem.absolute_path) or "(parameters)"
        lines.append(f"{path}: {problem.message}")
    known = ", ".join(sorted((schema.get("properties") or {}).keys())) or "none"
    raise FlowError(f"invalid parameters for {where}: " + "; ".join(lines),
                    hint=f"the flow's parameters are: {known}")
