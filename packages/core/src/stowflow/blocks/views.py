"""What a saved block looks like to a reader: its fields with every secret masked.

The CLI's ``block inspect``, the web UI and the HTTP API show blocks through
:func:`masked_view`, so no secret value ever leaves through any of them.
"""

from __future__ import annotations

from typing import Any

from stowflow.blocks.core import Block
from stowflow.redact import MASKED


def masked_view(block: Block) -> dict[str, Any]:
    """Return ``block``'s fields as JSON-able data: secrets as :data:`MASKED` (or ``None``
    when unset), nested blocks as ``{"block": "slug/name", **their masked fields}``."""
    secret = set(type(block).secret_field_names())
    out: dict[str, Any] = {}
    for name in type(block).model_fields:
        value = getattr(block, name)
        if name in secret:
            out[name] = MASKED if value is not None else None
        elif isinstance(value, Block):
            ref = f"{type(value).get_block_type_slug()}/{value.block_document_name or '(anonymous)'}"
            out[name] = {"block": ref, **masked_view(value)}
        else:
            out[name] = block.model_dump(mode="json", include={name}).get(name)
    return out
