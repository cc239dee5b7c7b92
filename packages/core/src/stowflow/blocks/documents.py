"""Persistence of block documents and block types in the stowflow database.

A document's public fields are stored as JSON; its secret fields are stored together as one
Fernet-encrypted JSON object, so a byte search of the database finds no secret value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from stowflow.blocks.crypto import decrypt_json, encrypt_json
from stowflow.db import BlockDocumentRecord, BlockTypeRecord, session
from stowflow.errors import BlockAlreadyExistsError, BlockInUseError, BlockNotFoundError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def write_document(
    slug: str,
    name: str | None,
    data: dict[str, Any],
    secrets: dict[str, Any],
    *,
    overwrite: bool = False,
    document_id: str | None = None,
) -> str:
    """Insert or (with ``overwrite``) replace the document ``slug/name``; return its id."""
    encrypted = encrypt_json(secrets) if secrets else None
    with session() as db:
        record = None
        if name is not None:
            record = _named(db, slug, name)
            if record is not None and not overwrite:
                raise BlockAlreadyExistsError(
                    f"a '{slug}' block named '{name}' already exists",
                    hint="pass overwrite=True (or --overwrite) to replace it",
                )
        elif document_id is not None:
            record = db.get(BlockDocumentRecord, document_id)
        if record is None:
            record = BlockDocumentRecord(
                block_type_slug=slug, name=name, is_anonymous=name is None
            )
            db.add(record)
        record.data = data
        record.encrypted_secrets = encrypted
        db.flush()
        return record.id


def read_document(slug: str, name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Return ``(id, data, secrets)`` of the document ``slug/name`` or raise not found."""
    with session() as db:
        record = _named(db, slug, name)
        if record is None:
            raise BlockNotFoundError(
                f"no '{slug}' block named '{name}'",
                hint=f"create it with 'stowflow block create {slug} {name}' or "
                "save it from Python; 'stowflow block ls' lists saved blocks",
            )
        return record.id, dict(record.data), _secrets_of(record)


def read_document_by_id(
    document_id: str,
) -> tuple[str, str | None, dict[str, Any], dict[str, Any]]:
    """Return ``(slug, name, data, secrets)`` of the document with this id (``name`` is
    ``None`` for an anonymous document)."""
    with session() as db:
        record = db.get(BlockDocumentRecord, document_id)
        if record is None:
            raise BlockNotFoundError(f"no block document with id {document_id}")
        return record.block_type_slug, record.name, dict(record.data), _secrets_of(record)


def _named(db: Session, slug: str, name: str) -> BlockDocumentRecord | None:
    """The saved document ``slug/name`` (``None`` when there is none)."""
    return db.scalars(select(BlockDocumentRecord).where(
        BlockDocumentRecord.block_type_slug == slug, BlockDocumentRecord.name == name)).first()


def _secrets_of(record: BlockDocumentRecord) -> dict[str, Any]:
    return decrypt_json(record.encrypted_secrets) if record.encrypted_secrets else {}


def delete_document(slug: str, name: str) -> None:
    """Delete the document ``slug/name``; raise not found when there is none."""
    with session() as db:
        record = _named(db, slug, name)
        if record is None:
            raise BlockNotFoundError(f"no '{slug}' block named '{name}'")
        users = [
            f"{other.block_type_slug}/{other.name or '(anonymous)'}"
            for other in db.scalars(select(BlockDocumentRecord))
            if any(value == {"$ref": record.id} for value in (other.data or {}).values())
        ]
        if users:
            # deleting it would leave them pointing at nothing ("no block document with id")
            raise BlockInUseError(f"'{slug}/{name}' is used by {', '.join(sorted(users))}",
                             hint="delete those blocks, or save them without it, first")
        db.delete(record)


def list_documents(slug: str | None = None,
                   search: str | None = None) -> list[tuple[str, str, str]]:
    """Return ``(slug, name, id)`` of every named document, optionally of one type and only
    those whose name contains ``search`` (case-insensitive)."""
    with session() as db:
        query = select(BlockDocumentRecord).where(BlockDocumentRecord.name.is_not(None))
        if slug:
            query = query.where(BlockDocumentRecord.block_type_slug == slug)
        if search:
            query = query.where(func.lower(BlockDocumentRecord.name)
                                .contains(search.lower(), autoescape=True))
        query = query.order_by(BlockDocumentRecord.block_type_slug, BlockDocumentRecord.name)
        return [(r.block_type_slug, r.name or "", r.id) for r in db.scalars(query)]


def write_block_type(
    slug: str, name: str, module: str, distribution: str | None, schema: dict[str, Any]
) -> None:
    """Record (or update) where the class of block type ``slug`` lives."""
    with session() as db:
        record = db.scalars(select(BlockTypeRecord).where(BlockTypeRecord.slug == slug)).first()
        if record is None:
            record = BlockTypeRecord(slug=slug)
            db.add(record)
        record.name, record.module = name, module
        record.distribution, record.schema = distribution, schema


def read_block_type(slug: str) -> BlockTypeRecord | None:
    """Return the recorded block type ``slug``, or ``None``."""
    with session() as db:
        return db.scalars(select(BlockTypeRecord).where(BlockTypeRecord.slug == slug)).first()


def list_block_types() -> list[BlockTypeRecord]:
    """Return every recorded block type, by slug."""
    with session() as db:
        return list(db.scalars(select(BlockTypeRecord).order_by(BlockTypeRecord.slug)))
