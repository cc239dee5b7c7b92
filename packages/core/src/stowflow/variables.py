"""Variables: named JSON values, usable in steps as ``{{ stowflow.variables.NAME }}``."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from stowflow.errors import NotFoundError, StowflowError

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,199}$")


class VariableError(StowflowError):
    """A variable name or value is invalid, or the variable already exists."""


class VariableExistsError(VariableError):
    """The variable already exists and replacing it was not asked for."""


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise VariableError(
            f"invalid variable name {name!r}",
            hint="use letters, digits, '_' and '-' (up to 200 characters), not starting with '-'",
        )
    return name


def set_variable(name: str, value: Any, *, overwrite: bool = False) -> None:
    """Save ``value`` (any JSON value) as variable ``name``.

    Raises :class:`VariableError` for an invalid name, or when ``name`` exists and
    ``overwrite`` is false.
    """
    from stowflow.db import VariableRecord, session

    _check_name(name)
    with session() as db:
        record = db.scalar(select(VariableRecord).where(VariableRecord.name == name))
        if record is None:
            db.add(VariableRecord(name=name, value=value))
        elif overwrite:
            record.value = value
        else:
            raise VariableExistsError(
                f"variable '{name}' already exists", hint="pass --overwrite to replace it"
            )


def get_variable(name: str) -> Any:
    """Return the value of variable ``name``; raise :class:`NotFoundError` when unset."""
    from stowflow.db import VariableRecord, session

    _check_name(name)
    with session() as db:
        record = db.scalar(select(VariableRecord).where(VariableRecord.name == name))
        if record is None:
            raise NotFoundError(
                f"variable '{name}' is not set", hint=f"stowflow variable set {name} VALUE"
            )
        return record.value


def list_variables() -> dict[str, Any]:
    """Return ``{name: value}`` of every variable, sorted by name."""
    from stowflow.db import VariableRecord, session

    with session() as db:
        return {r.name: r.value for r in db.scalars(select(VariableRecord).order_by(VariableRecord.name))}


def delete_variable(name: str) -> None:
    """Delete variable ``name``; raise :class:`NotFoundError` when it is not set."""
    from stowflow.db import VariableRecord, session

    _check_name(name)
    with session() as db:
        record = db.scalar(select(VariableRecord).where(VariableRecord.name == name))
        if record is None:
            raise NotFoundError(f"variable '{name}' is not set")
        db.delete(record)
