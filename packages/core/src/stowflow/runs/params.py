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


def secret_parameter_names(schema: dict[str, Any] | None) -> set[str]:
    """Return the parameters a flow's schema marks secret: typed ``SecretStr`` (JSON schema
    ``writeOnly`` or ``format: password``, also as a variant of ``anyOf`` / ``oneOf``)."""
    names = set()
    for name, prop in ((schema or {}).get("properties") or {}).items():
        variants = [prop, *prop.get("anyOf", []), *prop.get("oneOf", [])] \
            if isinstance(prop, dict) else []
        if any(isinstance(v, dict) and (v.get("writeOnly") or v.get("format") == "password")
               for v in variants):
            names.add(name)
    return names


def masked_parameters(parameters: dict[str, Any] | None,
                      schema: dict[str, Any] | None) -> dict[str, Any]:
    """Return ``parameters`` as they are shown: the value of each secret parameter
    (:func:`secret_parameter_names`) as :data:`~stowflow.redact.MASKED` (``None`` kept)."""
    from stowflow.redact import MASKED

    secret = secret_parameter_names(schema)
    return {name: MASKED if name in secret and value is not None else value
            for name, value in (parameters or {}).items()}


def coerce_text(raw: str, prop: dict[str, Any] | None) -> Any:
    """Turn the text a user typed for one parameter (or form field) into its value.

    The text is read as JSON (``3``, ``true``, ``[1,2]``) unless the JSON-schema property
    ``prop`` says the value is only a string, in which case it stays exactly as typed (so
    ``007`` is ``"007"``); text that is not JSON stays text. ``deployment run --param`` and
    the web UI's forms both use this rule.
    """
    if _declared_types({"properties": {"v": prop or {}}}, "v") == {"string"}:
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def parse_param_pairs(pairs: list[str], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Turn ``["name=value", ...]`` into a dict, each value read by :func:`coerce_text`.

    Raises FlowError on a pair without ``=``.
    """
    schema = schema or {}
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise FlowError(f"--param expects name=value, got {pair!r}", hint="e.g. --param n=3")
        params[key] = coerce_text(raw, (schema.get("properties") or {}).get(key))
    return params


class ParameterError(FlowError):
    """Parameters do not match a deployment's schema; ``problems`` lists ``(field, message)``
    pairs (``field`` is the dotted path, or ``""`` for the parameters as a whole)."""

    def __init__(self, message: str, *, problems: list[tuple[str, str]],
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems


def parameter_problems(parameters: dict[str, Any],
                       schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Return every ``(field, message)`` problem of ``parameters`` against ``schema``.

    A missing required parameter is reported under its own name; a problem with a secret
    parameter (:func:`secret_parameter_names`) names the rule it breaks, not its value.
    """
    if not schema:
        return []
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(schema)
    problems: list[tuple[str, str]] = []
    secret = secret_parameter_names(schema)  # their messages would quote the value
    for error in sorted(validator_cls(schema).iter_errors(parameters),
                        key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in error.absolute_path)
        if (error.validator == "required" and not path
                and isinstance(error.instance, dict)):
            for name in error.validator_value:
                if name not in error.instance:
                    problems.append((str(name), f"{name!r} is a required property"))
            continue
        if error.absolute_path and str(error.absolute_path[0]) in secret:
            problems.append((path, f"not a valid value ({error.validator}; a secret "
                                   "parameter's value is not quoted)"))
            continue
        problems.append((path, error.message))
    return problems


def validate_parameters(parameters: dict[str, Any], schema: dict[str, Any], *,
                        where: str) -> None:
    """Check ``parameters`` against the JSON ``schema``; raise :class:`ParameterError`
    listing every problem. An empty schema accepts anything. ``where`` names the deployment.
    """
    problems = parameter_problems(parameters, schema)
    if not problems:
        return
    lines = [f"{path or '(parameters)'}: {message}" for path, message in problems]
    known = ", ".join(sorted((schema.get("properties") or {}).keys())) or "none"
    raise ParameterError(f"invalid parameters for {where}: " + "; ".join(lines),
                         problems=problems, hint=f"the flow's parameters are: {known}")
