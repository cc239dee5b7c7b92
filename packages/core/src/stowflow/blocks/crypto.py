"""Encryption of block secrets at rest (Fernet).

The key comes from ``STOWFLOW_SECRET_KEY`` or, when unset, from ``$STOWFLOW_HOME/secret.key``,
created on first use with mode 0600 (atomically, so concurrent processes agree on one key).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from stowflow.errors import ConfigError, SecretDecryptionError
from stowflow.settings import get_settings

KEY_FILE_NAME = "secret.key"


def _key_file() -> Path | None:
    settings = get_settings()
    return None if settings.secret_key is not None else settings.home / KEY_FILE_NAME


def _key() -> bytes:
    settings = get_settings()
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = settings.ensure_home() / KEY_FILE_NAME
    if not path.exists():
        # Write the new key to a private temp file, then link it into place: the link either
        # creates the complete file or fails because another process made it first, so no
        # process ever reads a half-written key.
        fd, tmp = tempfile.mkstemp(dir=settings.home, prefix=".secret.key-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return path.read_bytes().strip()


def _fernet() -> Fernet:
    try:
        return Fernet(_key())
    except ValueError as exc:
        key_file = _key_file()
        source = "STOWFLOW_SECRET_KEY" if key_file is None else f"the key file {key_file}"
        raise ConfigError(
            f"{source} is not a valid Fernet key",
            hint="restore the key the blocks were saved with (a new key cannot decrypt them), "
            "or set STOWFLOW_SECRET_KEY to the output of "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'",
        ) from exc


def encrypt_json(value: dict[str, Any]) -> str:
    """Return ``value`` as JSON, encrypted with the stowflow secret key."""
    return _fernet().encrypt(json.dumps(value).encode()).decode()


def decrypt_json(token: str) -> dict[str, Any]:
    """Return the dict encrypted by :func:`encrypt_json`; a wrong key raises a clear error."""
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise SecretDecryptionError(
            "a saved block secret cannot be decrypted with the current secret key",
            hint="use the STOWFLOW_SECRET_KEY (or secret.key file) the block was saved with",
        ) from exc
