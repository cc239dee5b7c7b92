"""HTML forms generated from schemas: a block type's fields and a flow's parameters.

Nothing here knows any particular block type. A form is a list of :class:`FormField`
built from a pydantic model (a block class) or a JSON schema (a flow's parameters):
secret fields become password inputs whose saved value is never rendered, fields holding
a block become a select of the saved blocks of that type, nested models become a group of
sub-fields, enums and booleans become selects, anything else a JSON text area. Submitted
text is turned back into values with :func:`stowflow.runs.coerce_text` — the rule
``deployment run --param`` uses.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from stowflow.blocks import Block
from stowflow.blocks import documents as block_store
from stowflow.blocks.core import secret_fields_of
from stowflow.blocks.types import known_block_types
from stowflow.errors import BlockError
from stowflow.runs import coerce_text

_SCALARS = frozenset({"string", "boolean", "integer", "number"})
#: The select value that keeps a nested block saved without a name (from Python code).
KEEP_CURRENT = "__current__"
#: The prefix of the checkbox that clears an optional secret's saved value (``NAME`` is the
#: input's name): an empty password input keeps it.
CLEAR = "__clear__."


@dataclass
class FormField:
    """One input of a generated form (``kind`` picks the template macro)."""

    name: str
    label: str
    kind: str  # text | number | integer | select | password | json | block | group
    help: str | None = None
    required: bool = False
    value: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    secret_saved: bool = False
    error: str | None = None
    children: list[FormField] = field(default_factory=list)
    prop: dict[str, Any] = field(default_factory=dict)

    @property
    def clear_name(self) -> str:
        """The name of this secret input's "clear the saved value" box."""
        return CLEAR + self.name


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _resolve(prop: dict[str, Any], defs: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Return the property with ``$ref`` followed and ``null`` removed from ``anyOf``, and
    whether ``null`` was allowed."""
    if "$ref" in prop:
        prop = {**defs.get(prop["$ref"].rsplit("/", 1)[-1], {}), **prop}
    nullable = False
    variants = prop.get("anyOf")
    if variants:
        rest = [v for v in variants if v.get("type") != "null"]
        nullable = len(rest) < len(variants)
        if len(rest) == 1:
            inner, _ = _resolve(rest[0], defs)
            prop = {**inner, **{k: v for k, v in prop.items() if k != "anyOf"}}
        else:
            prop = {**prop, "anyOf": rest}
    return prop, nullable


def field_from_property(name: str, prop: dict[str, Any], *, required: bool, value: Any,
                        defs: Mapping[str, Any] | None = None,
                        label: str | None = None) -> FormField:
    """Return the input for one JSON-schema property (``value`` is the current value, or
    ``None`` to show the schema's default)."""
    prop, nullable = _resolve(prop, defs or {})
    if value is None and "default" in prop:
        value = prop["default"]
    out = FormField(name=name, label=label or prop.get("title") or name, kind="text",
                    help=prop.get("description"), required=required, prop=prop)
    kind = prop.get("type")
    if "enum" in prop:
        out.kind = "select"
        out.options = [(_as_text(v), _as_text(v)) for v in prop["enum"]]
    elif kind == "boolean":
        out.kind = "select"
        out.options = [("true", "true"), ("false", "false")]
    elif kind in ("integer", "number"):
        out.kind = kind
    elif kind == "string" and prop.get("format") == "password":
        out.kind = "password"
    elif kind is None and prop.get("anyOf") and all(
            v.get("type") in _SCALARS for v in prop["anyOf"]):
        out.kind = "text"  # e.g. ``bool | str``: typed text is read by coerce_text
    elif kind != "string":
        out.kind = "json"
    if out.kind == "select" and (nullable or not required):
        out.options.insert(0, ("", "(none)"))
    elif out.kind == "select" and value is None:
        # Required with no default: a browser would preselect the first choice and submit
        # it unasked. Nothing is chosen until the user chooses (empty: 'required' error).
        out.options.insert(0, ("", "(choose one)"))
    out.value = "" if out.kind == "password" else _as_text(value)
    return out


def parameter_form(schema: dict[str, Any], values: Mapping[str, Any] | None = None,
                   errors: Mapping[str, str] | None = None) -> list[FormField]:
    """Return the inputs of a flow's parameter ``schema`` (with ``values`` shown)."""
    required = set(schema.get("required") or [])
    fields = []
    for name, prop in (schema.get("properties") or {}).items():
        item = field_from_property(name, prop, required=name in required,
                                   value=(values or {}).get(name), defs=schema.get("$defs"))
        item.error = (errors or {}).get(name)
        fields.append(item)
    return fields


def _classes_in(annotation: Any) -> list[type]:
    found: list[type] = []
    if isinstance(annotation, type):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found.extend(_classes_in(arg))
    return found


def block_classes_in(annotation: Any) -> list[type[Block]]:
    """Return the block classes a field's annotation allows (``X | Y | None`` included)."""
    return [c for c in _classes_in(annotation) if issubclass(c, Block)]


def _block_options(classes: list[type[Block]]) -> list[tuple[str, str]]:
    slugs = [slug for slug, cls in known_block_types().items() if issubclass(cls, tuple(classes))]
    for cls in classes:
        if cls.get_block_type_slug() not in slugs:
            slugs.append(cls.get_block_type_slug())
    options = []
    for slug in slugs:
        for doc_slug, name, _ in block_store.list_documents(slug):
            options.append((f"{doc_slug}/{name}", f"{name} ({doc_slug})"))
    return options


def model_form(model: type[BaseModel], current: Mapping[str, Any] | BaseModel | None = None,
               *, prefix: str = "", errors: Mapping[str, str] | None = None,
               saved_secrets: set[str] | None = None) -> list[FormField]:
    """Return the inputs of a pydantic model's fields (a block type or a nested model).

    ``current`` is the saved model (its secrets are never rendered, only whether one is
    set) or the submitted text by field name when a form is shown again after an error;
    then ``saved_secrets`` names the secret fields that have a saved value.
    """
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    secret = set(secret_fields_of(model))
    fields: list[FormField] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if isinstance(current, BaseModel):
            value: Any = getattr(current, name, None)
        else:
            value = (current or {}).get(path)
        prop = (schema.get("properties") or {}).get(info.alias or name, {})
        classes = _classes_in(info.annotation)
        blocks = block_classes_in(info.annotation)
        models = [c for c in classes if issubclass(c, BaseModel) and not issubclass(c, Block)]
        # pydantic's own title rule for a field whose schema has none (a $ref to a block)
        label = prop.get("title") or info.title or name.replace("_", " ").title()
        if name in secret:
            item = FormField(name=path, label=label, kind="password", help=info.description,
                             required=info.is_required(),
                             secret_saved=(value is not None if isinstance(current, BaseModel)
                                           else path in (saved_secrets or set())))
        elif blocks:
            item = FormField(name=path, label=label, kind="block", help=info.description,
                             required=info.is_required(), options=_block_options(blocks))
            if isinstance(value, Block):
                if value.block_document_name:
                    item.value = f"{value.get_block_type_slug()}/{value.block_document_name}"
                else:
                    item.value = KEEP_CURRENT
                    item.options.insert(0, (KEEP_CURRENT, "(the block saved with it, unnamed)"))
            else:
                item.value = _as_text(value)
            if not item.required:
                item.options.insert(0, ("", "(none)"))
        elif len(models) == 1 and len(classes) == len(models) + (type(None) in classes):
            sub = value if isinstance(value, BaseModel) else (
                current if not isinstance(current, BaseModel) else None)
            item = FormField(name=path, label=label, kind="group", help=info.description,
                             children=model_form(models[0], sub, prefix=f"{path}.",
                                                 errors=errors))
        else:
            if isinstance(value, BaseModel | list | dict) and isinstance(current, BaseModel):
                value = current.model_dump(mode="json", include={name}).get(name)
            item = field_from_property(path, prop, required=info.is_required(), value=value,
                                       defs=defs, label=label)
            item.help = info.description or item.help
        item.error = (errors or {}).get(path)
        fields.append(item)
    return fields


class FormError(Exception):
    """The submitted form has errors: ``errors`` maps a field name ('' for the whole form)
    to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k or 'form'}: {v}" for k, v in errors.items()))
        self.errors = errors


def parse_fields(fields: list[FormField], form: Mapping[str, Any],
                 current: BaseModel | None = None) -> dict[str, Any]:
    """Turn submitted form text into values for ``fields``; an empty input is left out (the
    default applies), except that an empty secret keeps ``current``'s saved value unless
    its :data:`CLEAR` box is ticked (optional secrets only).

    Raises :class:`FormError` for text that is not JSON where JSON is needed, or a block
    that cannot be loaded.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for item in fields:
        key = item.name.rsplit(".", 1)[-1]
        raw = form.get(item.name, "")
        raw = raw if isinstance(raw, str) else ""
        if item.kind == "group":
            sub_current = getattr(current, key, None) if current is not None else None
            try:
                sub = parse_fields(item.children, form,
                                   sub_current if isinstance(sub_current, BaseModel) else None)
            except FormError as exc:
                errors.update(exc.errors)
                continue
            if sub:
                values[key] = sub
        elif item.kind == "password":
            if raw:
                values[key] = raw
            elif form.get(item.clear_name) and not item.required:
                continue  # cleared: the field's default (None) applies
            elif current is not None and getattr(current, key, None) is not None:
                values[key] = getattr(current, key)
        elif raw == "":
            continue
        elif item.kind == "block":
            if raw == KEEP_CURRENT and current is not None:
                values[key] = getattr(current, key, None)
                continue
            try:
                values[key] = Block.load(raw)
            except BlockError as exc:
                errors[item.name] = str(exc)
        elif item.kind == "json":
            try:
                values[key] = json.loads(raw)
            except json.JSONDecodeError:
                errors[item.name] = "not valid JSON (write text in double quotes)"
        else:
            values[key] = coerce_text(raw, item.prop)
    if errors:
        raise FormError(errors)
    return values


def validation_errors(exc: ValidationError, fields: list[FormField]) -> dict[str, str]:
    """Map a pydantic error to the inputs it is about (the input itself is never quoted)."""
    names = {f.name for f in _walk(fields)}
    errors: dict[str, str] = {}
    for problem in exc.errors(include_input=False, include_url=False):
        parts = [str(p) for p in problem["loc"]]
        target = ""
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in names:
                target = ".".join(parts[:end])
                break
        message = problem["msg"]
        errors[target] = f"{errors[target]}; {message}" if target in errors else message
    return errors


def _walk(fields: list[FormField]) -> list[FormField]:
    out = []
    for item in fields:
        out.append(item)
        out.extend(_walk(item.children))
    return out


def submitted_text(fields: list[FormField], form: Mapping[str, Any]) -> dict[str, str]:
    """Return what was typed into each non-secret input, to show the form again."""
    return {f.name: form.get(f.name, "") for f in _walk(fields)
            if f.kind not in ("password", "group") and isinstance(form.get(f.name, ""), str)}


def build_block(cls: type[Block], form: Mapping[str, Any],
                current: Block | None = None) -> Block:
    """Validate a submitted block form into a ``cls`` instance (not saved).

    Raises :class:`FormError` with the problems by input name.
    """
    fields = model_form(cls, current)
    values = parse_fields(fields, form, current)
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        raise FormError(validation_errors(exc, fields)) from None


__all__ = [
    "CLEAR",
    "KEEP_CURRENT",
    "FormError",
    "FormField",
    "block_classes_in",
    "build_block",
    "field_from_property",
    "model_form",
    "parameter_form",
    "parse_fields",
    "submitted_text",
    "validation_errors",
]
