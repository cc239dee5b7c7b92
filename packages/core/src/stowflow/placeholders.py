"""The one vocabulary of block placeholders: ``{{ stowflow.blocks.<slug>.<name>[.field] }}``.

Everything that writes a placeholder for a block (a deployment's pull step, ``stowflow
init``'s questions, a stored credential) calls :func:`block_placeholder` or
:func:`placeholder_for`; everything that reads which blocks a value refers to (the worker's
auth phase, the warm interpreter's plan) calls :func:`block_refs`. The templating engine
(:mod:`stowflow.steps.templating`) resolves them with the same pattern, :data:`PLACEHOLDER`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from stowflow.errors import ConfigError

if TYPE_CHECKING:
    from stowflow.blocks.core import Block

#: One ``{{ expression }}``; group 1 is the expression without the braces and spaces.
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
#: The prefix of a block expression.
BLOCK_PREFIX = "stowflow.blocks."


def placeholder_for(slug: str, name: str) -> str:
    """Return ``{{ stowflow.blocks.<slug>.<name> }}``."""
    return f"{{{{ {BLOCK_PREFIX}{slug}.{name} }}}}"


def block_placeholder(block: Block, what: str = "the block", *, hint: str | None = None) -> str:
    """Return the placeholder of a saved ``block``; an unsaved one is a ``ConfigError``.

    ``what`` names the block in the message (``"option 'credentials'"``); ``hint`` replaces
    the default "save it first" advice.
    """
    name = block.block_document_name
    if not name:
        raise ConfigError(
            f"{what} is an unsaved {type(block).__name__} block, so a deployment cannot "
            "refer to it",
            hint=hint or "save it first: block.save('name')")
    return placeholder_for(block.get_block_type_slug(), name)


def expressions(value: Any) -> Iterator[str]:
    """Yield every placeholder expression in ``value`` (strings, dicts, lists), in order."""
    if isinstance(value, str):
        yield from (m.group(1) for m in PLACEHOLDER.finditer(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from expressions(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from expressions(item)


def is_placeholder(value: Any) -> bool:
    """Whether ``value`` is a string that is exactly one placeholder (spaces around allowed)."""
    return isinstance(value, str) and PLACEHOLDER.fullmatch(value.strip()) is not None


def has_placeholder(value: Any) -> bool:
    """Whether ``value`` (a string, dict or list) contains a placeholder anywhere."""
    return next(expressions(value), None) is not None


def block_refs(value: Any) -> list[str]:
    """Return the sorted ``slug/name`` of every block ``value``'s placeholders refer to."""
    refs = set()
    for expr in expressions(value):
        parts = expr.split(".")
        if expr.startswith(BLOCK_PREFIX) and len(parts) >= 4:
            refs.add(f"{parts[2]}/{parts[3]}")
    return sorted(refs)
