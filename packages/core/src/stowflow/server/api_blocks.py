"""The JSON API of blocks: block types, and list / read / create / edit / delete blocks.

Writes are validated exactly as ``stowflow block create`` and the UI's forms validate them
(the block class's own pydantic model, then the name rule of :meth:`Block.save`). Secret
fields are write-only: a response shows the masked view
(:func:`stowflow.blocks.views.masked_view`), never a value, and a validation problem never
quotes the input.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from stowflow.blocks import Block, get_block_class
from stowflow.blocks.types import known_block_types
from stowflow.blocks.views import MASKED, masked_view
from stowflow.errors import BlockError
from stowflow.server.security import require_write

router = APIRouter(prefix="/api", tags=["blocks"])


class BlockOut(BaseModel):
    """A saved block as the API shows it: secret fields are ``"********"`` (set) or null."""

    slug: str = Field(description="The block type's slug, e.g. github-credentials.")
    name: str = Field(description="The block's name.")
    id: str | None = Field(description="The block document's id.")
    data: dict[str, Any] = Field(description="The fields; secrets masked, nested blocks as "
                                 '{"block": "slug/name", ...their masked fields}.')


class BlockCreate(BaseModel):
    """The body of ``POST /api/blocks/{slug}``."""

    name: str = Field(description="The name to save the block as (no '/').")
    data: dict[str, Any] = Field(default_factory=dict, description=(
        "The block's fields. A field holding a block takes a saved block as "
        '"slug/name" (or {"block": "slug/name"}); secret fields take their value.'))


class BlockEdit(BaseModel):
    """The body of ``PATCH /api/blocks/{slug}/{name}``."""

    data: dict[str, Any] = Field(description=(
        "The fields to change; fields left out keep their saved value (secrets too). "
        "null clears an optional field."))


class BlockInvalid(Exception):
    """Submitted block data failed validation: ``problems`` are ``{loc, msg}`` (no input)."""

    def __init__(self, slug: str, problems: list[dict[str, Any]]) -> None:
        text = "; ".join(f"{'.'.join(map(str, p['loc'])) or 'data'}: {p['msg']}"
                         for p in problems)
        super().__init__(f"invalid '{slug}' block: {text}")
        self.problems = problems


def _reference(cls: type[Block], field: str, value: Any, current: Block | None) -> Any:
    """Turn a block reference (``"slug/name"`` or ``{"block": "slug/name"}``) given for a
    block-typed field into the saved block; other values go to pydantic as they are."""
    from stowflow.server.forms import block_classes_in

    if not block_classes_in(cls.model_fields[field].annotation):
        return value
    ref = value.get("block") if isinstance(value, dict) and "block" in value else value
    if not isinstance(ref, str):
        return value
    if current is not None:
        saved = getattr(current, field, None)
        if isinstance(saved, Block) and ref == (
                f"{saved.get_block_type_slug()}/{saved.block_document_name or '(anonymous)'}"):
            return saved  # the masked view handed back unchanged
    try:
        return Block.load(ref)
    except BlockError as exc:
        raise BlockInvalid(cls.get_block_type_slug(), [{"loc": [field], "msg": exc.message}]) \
            from None


def block_from_json(cls: type[Block], data: dict[str, Any],
                    current: Block | None = None) -> Block:
    """Validate JSON ``data`` into a ``cls`` block (not saved); with ``current``, fields
    left out keep their saved values. Raises :class:`BlockInvalid`."""
    slug = cls.get_block_type_slug()
    secret = set(cls.secret_field_names())
    problems = [{"loc": [name], "msg": "this is the mask shown for a saved secret, not a "
                 "value: leave the field out to keep the saved one"}
                for name, value in data.items() if name in secret and value == MASKED]
    if problems:
        raise BlockInvalid(slug, problems)
    values: dict[str, Any] = {}
    if current is not None:
        values = {name: getattr(current, name) for name in cls.model_fields}
    for name, value in data.items():
        values[name] = _reference(cls, name, value, current) if name in cls.model_fields \
            else value
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        raise BlockInvalid(slug, [{"loc": list(e["loc"]), "msg": e["msg"]} for e in
                                  exc.errors(include_input=False, include_url=False)]) from None


def _out(slug: str, name: str, block: Block) -> dict[str, Any]:
    return {"slug": slug, "name": name, "id": block.block_document_id,
            "data": masked_view(block)}


def invalid_response(exc: BlockInvalid) -> JSONResponse:
    """The 422 answer for invalid block data (the app's handler of :class:`BlockInvalid`)."""
    return JSONResponse({"error": str(exc), "hint": "fix the fields named in 'problems'",
                         "problems": exc.problems}, 422)


@router.get("/block-types")
def block_types() -> list[dict[str, Any]]:
    """Every block type usable here, with its JSON schema."""
    return [{"slug": slug, "name": cls.get_block_type_name(),
             "description": (cls.__doc__ or "").strip(),
             "secret_fields": cls.secret_field_names(), "schema": cls.model_json_schema()}
            for slug, cls in known_block_types().items()]


@router.get("/blocks")
def list_blocks(type: str | None = None, q: str | None = None) -> list[dict[str, str]]:
    """Saved blocks (``slug``, ``name``, ``id``), optionally of one type or matching ``q``."""
    # The document store (and the ORM, cryptography) is imported by the first request that
    # uses it, not before the server answers /api/health.
    from stowflow.blocks import documents as block_store

    return [{"slug": slug, "name": name, "id": doc_id}
            for slug, name, doc_id in block_store.list_documents(type, search=q)]


@router.get("/blocks/{slug}/{name}", response_model=BlockOut)
def get_block(slug: str, name: str) -> dict[str, Any]:
    """One saved block, its secret fields masked."""
    return _out(slug, name, Block.load(f"{slug}/{name}"))


@router.post("/blocks/{slug}", status_code=201, response_model=BlockOut,
             dependencies=[Depends(require_write)],
             responses={409: {"description": "A block of this type and name exists."},
                        422: {"description": "Invalid fields (problems: loc, msg)."}})
def create_block(slug: str, body: BlockCreate) -> dict[str, Any]:
    """Create a block of type ``slug``, validated as ``stowflow block create`` does."""
    block = block_from_json(get_block_class(slug), body.data)
    block.save(body.name)
    return _out(slug, body.name, block)


@router.patch("/blocks/{slug}/{name}", response_model=BlockOut,
              dependencies=[Depends(require_write)],
              responses={422: {"description": "Invalid fields (problems: loc, msg)."}})
def edit_block(slug: str, name: str, body: BlockEdit) -> dict[str, Any]:
    """Change fields of a saved block (the same document and id); secrets left out are
    kept."""
    current = Block.load(f"{slug}/{name}")
    block = block_from_json(type(current), body.data, current)
    block.save(name, overwrite=True)
    return _out(slug, name, block)


@router.delete("/blocks/{slug}/{name}", status_code=204,
               dependencies=[Depends(require_write)],
               responses={409: {"description": "Another block refers to it (named)."}})
def delete_block(slug: str, name: str) -> None:
    """Delete a saved block, unless another block refers to it (the error names them)."""
    from stowflow.blocks import documents as block_store

    block_store.delete_document(slug, name)
