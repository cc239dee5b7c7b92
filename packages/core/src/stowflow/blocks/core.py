"""The ``Block`` base class: typed, validated configuration that can be saved by name.

A block is a pydantic model. Saving it writes one document to the database: its public
fields as JSON, its secret fields (``SecretStr``, ``SecretBytes``, ``pydantic.Secret``)
encrypted, and each nested block as a reference to that block's own document. Loading it
reverses this and registers every secret value with the shared redactor.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from types import ModuleType
from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    Secret,
    SecretBytes,
    SecretStr,
    ValidationError,
    model_validator,
)

from stowflow.blocks import slugs
from stowflow.errors import BlockDataError, BlockError
from stowflow.placeholders import placeholder_for
from stowflow.redact import register_secret

_SECRET_TYPES = (SecretStr, SecretBytes, Secret)
REF_KEY = "$ref"

#: Every Block subclass defined in this process, by slug (the last definition wins).
DEFINED_BLOCK_TYPES: dict[str, type[Block]] = {}


def _reveal(value: Any) -> Any:
    if isinstance(value, SecretBytes):
        return value.get_secret_value().decode()
    if isinstance(value, _SECRET_TYPES):
        return value.get_secret_value()
    return value


def secret_fields_of(model: type[BaseModel]) -> list[str]:
    """Return the names of ``model``'s fields whose type is a pydantic secret type."""
    names = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        text = repr(annotation)
        if any(t.__name__ in text for t in _SECRET_TYPES) or (
            isinstance(annotation, type) and issubclass(annotation, _SECRET_TYPES)
        ):
            names.append(name)
    return names


def validation_problems(exc: ValidationError) -> str:
    """Return ``exc``'s problems as ``"field: reason; ..."`` — locations and reasons only.

    pydantic's own text echoes the input values, which may be secrets; this never does.
    """
    return "; ".join(
        (f"{'.'.join(map(str, e['loc']))}: " if e["loc"] else "")
        + e["msg"].removeprefix("Value error, ")
        for e in exc.errors(include_input=False, include_url=False)
    )


class Block(BaseModel):
    """Base class of every block: subclass it, declare fields (each with a description).

    The type slug is derived from ``__block_type_name__`` when a class sets it (for brand
    names such as ``"GitHub Credentials"``), else from the class name.
    """

    # hide_input_in_errors: a validation error must not print the input, which may hold secrets.
    # defer_build: a block type's validator is built when it is first used, not when its
    # module is imported (importing a provider's steps module defines several block types).
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True,
                              hide_input_in_errors=True, defer_build=True)

    __block_type_name__: ClassVar[str | None] = None

    _document_id: str | None = PrivateAttr(default=None)
    _document_name: str | None = PrivateAttr(default=None)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # Classes defined in this process are loadable by slug even if never registered;
        # abstract bases (StorageBlock, ObjectStorageBlock) are not block types.
        if not inspect.isabstract(cls):
            DEFINED_BLOCK_TYPES[cls.get_block_type_slug()] = cls

    @model_validator(mode="after")
    def _register_secrets(self) -> Self:
        for name in type(self).model_fields:
            value = getattr(self, name, None)
            if isinstance(value, _SECRET_TYPES):
                revealed = _reveal(value)
                if isinstance(revealed, str | bytes):
                    register_secret(revealed)
        return self

    # --- naming -------------------------------------------------------------------------

    @classmethod
    def get_block_type_name(cls) -> str:
        """Return the display name of this block type (``GitHub Credentials``)."""
        return cls.__block_type_name__ or slugs.display_name(cls.__name__)

    @classmethod
    def get_block_type_slug(cls) -> str:
        """Return the type slug used in documents and templates (``github-credentials``)."""
        return slugs.slugify(cls.get_block_type_name())

    @property
    def block_document_name(self) -> str | None:
        """The name this block was saved or loaded under, or ``None``."""
        return self._document_name

    @property
    def block_document_id(self) -> str | None:
        """The id of the document this block was saved to or loaded from, or ``None``."""
        return self._document_id

    @classmethod
    def secret_field_names(cls) -> list[str]:
        """Return the names of the fields stored encrypted."""
        return secret_fields_of(cls)

    # --- persistence --------------------------------------------------------------------

    def _split_for_storage(self) -> tuple[dict[str, Any], dict[str, Any]]:
        data: dict[str, Any] = {}
        secrets: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Block):
                ref = value._document_id if value._document_name else None
                if ref is None:
                    ref = value._save_document(None, overwrite=False)
                data[name] = {REF_KEY: ref}
            elif isinstance(value, _SECRET_TYPES):
                secrets[name] = _reveal(value)
            else:
                data[name] = self.__pydantic_serializer__.to_python(
                    self, mode="json", include={name}
                ).get(name)
        return data, secrets

    def _save_document(self, name: str | None, *, overwrite: bool) -> str:
        from stowflow.blocks.types import ensure_block_type_recorded

        ensure_block_type_recorded(type(self))
        data, secrets = self._split_for_storage()
        document_id = document_store().write_document(
            type(self).get_block_type_slug(), name, data, secrets, overwrite=overwrite,
            document_id=self._document_id if name is None else None,
        )
        self._document_id = document_id
        self._document_name = name
        return document_id

    def save(self, name: str, overwrite: bool = False) -> str:
        """Save this block as ``name``; return the document id.

        Nested blocks that were loaded by name are stored as references to their documents;
        unsaved ones are saved as anonymous documents first. Raises
        :class:`~stowflow.errors.BlockAlreadyExistsError` when ``name`` is taken and
        ``overwrite`` is false.
        """
        if not name or "/" in name or len(name) > 200:
            raise BlockError(f"invalid block name {name[:80]!r}: use a non-empty name of up to "
                             "200 characters without '/'")
        return self._save_document(name, overwrite=overwrite)

    @classmethod
    def load(cls, name: str) -> Self:
        """Load the block saved as ``name``.

        On a subclass, ``name`` is the document name. On ``Block`` itself, it is
        ``"type-slug/name"`` and the class is found through the block type registry; a type
        whose module is not installed raises an error naming the distribution to install.
        """
        from stowflow.blocks.types import get_block_class

        if cls is Block:
            slug, _, doc_name = name.partition("/")
            if not doc_name:
                raise BlockError(
                    f"Block.load needs 'type-slug/name', got {name!r}",
                    hint="for example Block.load('secret/my-token')",
                )
            block_cls: type[Block] = get_block_class(slug)
        else:
            block_cls, slug, doc_name = cls, cls.get_block_type_slug(), name
        document_id, data, secrets = document_store().read_document(slug, doc_name)
        block = block_cls._from_document(data, secrets)
        block._document_id, block._document_name = document_id, doc_name
        return block  # type: ignore[return-value]

    @classmethod
    def _from_document(cls, data: dict[str, Any], secrets: dict[str, Any]) -> Self:
        from stowflow.blocks.types import load_block_by_id

        values: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, dict) and set(value) == {REF_KEY}:
                values[key] = load_block_by_id(value[REF_KEY])
            else:
                values[key] = value
        values.update(secrets)
        return cls.model_validate(values)

    def delete(self) -> None:
        """Delete the document this block was saved as or loaded from."""
        if not self._document_name:
            raise BlockError("this block was never saved under a name, so there is nothing to delete")
        document_store().delete_document(type(self).get_block_type_slug(), self._document_name)
        self._document_id = self._document_name = None

    # --- use ----------------------------------------------------------------------------

    @classmethod
    def ambient(cls) -> Self:
        """Return the block to use when a caller gives none (see :meth:`coerce`).

        By default every field at its default, which a provider's SDK reads as "its own
        environment chain" (AWS's credential chain, GCP's Application Default Credentials).
        A type whose defaults are not usable overrides this (Azure reads its environment
        variables and refuses when neither is set).
        """
        return cls()

    @classmethod
    def coerce(cls, value: Self | Mapping[str, Any] | None) -> Self:
        """Return ``value`` as a block of this type.

        Accepts the block itself, its data as a dict (what a ``{{ stowflow.blocks.<slug>.NAME
        }}`` placeholder resolves to at run time) or ``None`` (:meth:`ambient`). Anything
        else, or data that does not validate, is a :class:`~stowflow.errors.BlockDataError`
        naming the fields and reasons, never the values (they may be secrets).
        """
        if value is None:
            return cls.ambient()
        if isinstance(value, cls):
            return value
        name, slug = cls.get_block_type_name(), cls.get_block_type_slug()
        if isinstance(value, Mapping):
            try:
                return cls.model_validate(dict(value))
            except ValidationError as exc:
                raise BlockDataError(f"invalid {name}: {validation_problems(exc)}") from None
        raise BlockDataError(
            f"expected a {name} block or a dict of its fields, got {type(value).__name__}",
            hint=f'refer to a saved block: "{placeholder_for(slug, "NAME")}"')

    def revealed_data(self) -> dict[str, Any]:
        """Return the fields as plain data with secrets revealed (for templating at run time).

        Only for handing a block's values to a step in the worker; never log the result.
        """
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Block):
                out[name] = value.revealed_data()
            elif isinstance(value, _SECRET_TYPES):
                out[name] = _reveal(value)
            else:
                out[name] = self.__pydantic_serializer__.to_python(
                    self, mode="json", include={name}
                ).get(name)
        return out


def document_store() -> ModuleType:
    """Return :mod:`stowflow.blocks.documents`, imported on first use (it needs the database,
    which defining or validating a block never does)."""
    from stowflow.blocks import documents

    return documents
