"""The JSON API under ``/api/`` (documented at ``/api/openapi.json``).

Each route calls the library function the CLI uses for the same thing (``stowflow.runs``,
``stowflow.blocks``, ``stowflow.workers.pools``, ``stowflow.variables``); block data is
always the masked view, so no secret value is ever in a response.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from stowflow.blocks import Block
from stowflow.blocks import store as block_store
from stowflow.blocks.types import known_block_types
from stowflow.blocks.views import masked_view
from stowflow.db import get_engine, session

router = APIRouter(prefix="/api")


@router.get("/health", tags=["server"])
def health() -> dict[str, Any]:
    """Whether the server is up and its database answers."""
    from stowflow import __version__

    with session() as db:
        db.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__, "database": get_engine().dialect.name}


@router.get("/block-types", tags=["blocks"])
def block_types() -> list[dict[str, Any]]:
    """Every block type usable here, with its JSON schema."""
    return [{"slug": slug, "name": cls.get_block_type_name(),
             "description": (cls.__doc__ or "").strip(),
             "secret_fields": cls.secret_field_names(), "schema": cls.model_json_schema()}
            for slug, cls in known_block_types().items()]


@router.get("/blocks", tags=["blocks"])
def list_blocks(type: str | None = None, q: str | None = None) -> list[dict[str, str]]:
    """Saved blocks (``slug``, ``name``, ``id``), optionally of one type or matching ``q``."""
    return [{"slug": slug, "name": name, "id": doc_id}
            for slug, name, doc_id in block_store.list_documents(type, search=q)]


@router.get("/blocks/{slug}/{name}", tags=["blocks"])
def get_block(slug: str, name: str) -> dict[str, Any]:
    """One saved block, its secret fields masked."""
    block = Block.load(f"{slug}/{name}")
    return {"slug": slug, "name": name, "id": block.block_document_id,
            "data": masked_view(block)}
