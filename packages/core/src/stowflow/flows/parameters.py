"""A flow's parameters: a pydantic model built from its signature, its JSON schema, validation.

The same :class:`Parameters` is built either from a live function (``@flow``) or from the
annotations read out of source code by :mod:`.metadata` (deploy time, nothing imported),
so the schema a deployment records is computed the same way in both cases.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from stowflow.errors import FlowError

#: Marks a parameter without a default (required).
REQUIRED: Any = inspect.Parameter.empty
#: Marks a default that exists but could not be read from source (not a literal).
UNKNOWN_DEFAULT: Any = object()


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter: its name, type annotation (``Any`` when unknown) and default."""

    name: str
    annotation: Any = Any
    default: Any = REQUIRED


class Parameters:
    """The parameters of one flow, with a pydantic model for validation and a JSON schema."""

    def __init__(self, flow_name: str, specs: list[ParameterSpec], accepts_extra: bool = False):
        self.flow_name = flow_name
        self.specs = list(specs)
        self.accepts_extra = accepts_extra

    @classmethod
    def from_function(cls, flow_name: str, fn: Callable[..., Any]) -> Parameters:
        """Return the parameters of ``fn`` from its signature and (evaluated) type hints."""
        hints = _annotations(fn)
        specs, extra = [], False
        for param in inspect.signature(fn).parameters.values():
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                extra = True
                continue
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                continue
            specs.append(ParameterSpec(param.name, hints.get(param.name, Any), param.default))
        return cls(flow_name, specs, accepts_extra=extra)

    @property
    def names(self) -> list[str]:
        """The parameter names in signature order."""
        return [spec.name for spec in self.specs]

    @cached_property
    def model(self) -> type[BaseModel]:
        """The pydantic model (fields aliased so any parameter name is allowed)."""
        fields: dict[str, Any] = {}
        for index, spec in enumerate(self.specs):
            fields[f"p{index}"] = (spec.annotation, self._field(spec))
        config = ConfigDict(
            extra="allow" if self.accepts_extra else "forbid",
            arbitrary_types_allowed=True,
            populate_by_name=False,
        )
        return create_model(f"{_title(self.flow_name)}Parameters", __config__=config, **fields)

    @staticmethod
    def _field(spec: ParameterSpec) -> Any:
        if spec.default is REQUIRED:
            return Field(..., alias=spec.name, title=spec.name)
        if spec.default is UNKNOWN_DEFAULT:
            return Field(default_factory=lambda: None, alias=spec.name, title=spec.name)
        return Field(default=spec.default, alias=spec.name, title=spec.name)

    def schema(self) -> dict[str, Any]:
        """Return the JSON schema of the parameters (``{}`` for a type with no schema)."""
        try:
            return self.model.model_json_schema()
        except Exception:  # arbitrary types: describe what can be described
            properties: dict[str, Any] = {}
            for spec in self.specs:
                try:
                    prop = TypeAdapter(spec.annotation).json_schema()
                except Exception:
                    prop = {}
                prop = {"title": spec.name, **prop}
                if spec.default not in (REQUIRED, UNKNOWN_DEFAULT):
                    try:
                        TypeAdapter(Any).dump_json(spec.default)
                        prop["default"] = spec.default
                    except Exception:
                        pass
                properties[spec.name] = prop
            required = [s.name for s in self.specs if s.default is REQUIRED]
            schema: dict[str, Any] = {
                "title": f"{_title(self.flow_name)}Parameters", "type": "object",
                "properties": properties,
            }
            if required:
                schema["required"] = required
            return schema

    def validate(self, values: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
        """Return ``values`` validated and coerced; defaults filled in unless ``partial``.

        ``partial`` checks only the given values (deploy time: the rest may come at run
        time). Raises :class:`FlowError` naming every bad, unknown or missing parameter.
        """
        if not isinstance(values, Mapping):
            raise FlowError(
                f"flow '{self.flow_name}': parameters must be a mapping, got {type(values).__name__}"
            )
        known = set(self.names)
        unknown = [k for k in values if k not in known]
        if unknown and not self.accepts_extra:
            raise FlowError(
                f"flow '{self.flow_name}' has no parameter "
                + ", ".join(f"'{k}'" for k in unknown),
                hint=f"its parameters are: {', '.join(self.names) or '(none)'}",
            )
        if partial:
            return self._validate_each(values)
        try:
            instance = self.model.model_validate(dict(values))
        except ValidationError as exc:
            raise FlowError(
                f"invalid parameters for flow '{self.flow_name}': {_describe(exc)}"
            ) from None
        out = {spec.name: getattr(instance, f"p{i}") for i, spec in enumerate(self.specs)}
        out.update(instance.model_extra or {})
        return out

    def _validate_each(self, values: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        problems = []
        by_name = {spec.name: spec for spec in self.specs}
        for key, value in values.items():
            spec = by_name.get(key)
            if spec is None:
                out[key] = value
                continue
            try:
                out[key] = TypeAdapter(spec.annotation, config=ConfigDict(
                    arbitrary_types_allowed=True)).validate_python(value)
            except ValidationError as exc:
                problems.append(_describe(exc, prefix=key))
            except Exception:  # a type pydantic cannot check on its own
                out[key] = value
        if problems:
            raise FlowError(f"invalid parameters for flow '{self.flow_name}': {'; '.join(problems)}")
        return out


def _annotations(fn: Callable[..., Any]) -> dict[str, Any]:
    """Return ``fn``'s evaluated annotations; one that cannot be evaluated becomes ``Any``."""
    try:
        return inspect.get_annotations(fn, eval_str=True)
    except Exception:  # some annotation names something not importable here: go one by one
        pass
    raw = inspect.get_annotations(fn)
    namespace = dict(getattr(fn, "__globals__", {}))
    hints: dict[str, Any] = {}
    for name, annotation in raw.items():
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, namespace)  # what eval_str=True does, per name
            except Exception:
                annotation = Any
        hints[name] = annotation
    return hints


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_") if part) or "Flow"


def _describe(exc: ValidationError, prefix: str | None = None) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        loc = [str(p) for p in error["loc"]]
        if prefix is not None:
            loc = [prefix, *loc]
        where = ".".join(loc) or "parameters"
        message = error["msg"]
        if error["type"] == "missing":
            parts.append(f"parameter '{where}' is required")
        elif error["type"] == "extra_forbidden":
            parts.append(f"unknown parameter '{where}'")
        else:
            parts.append(f"parameter '{where}': {message} (got {_short(error.get('input'))})")
    return "; ".join(parts)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
