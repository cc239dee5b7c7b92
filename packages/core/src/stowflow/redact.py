"""One shared redactor: it knows the actual secret values in play and removes them.

Every secret value stowflow touches (a block's ``SecretStr`` field when it is loaded or
created, a token handed to git, a key read from the environment) is registered here with
:func:`register_secret`. :func:`redact` replaces each known value — and its common encodings
(URL-quoted, base64 of ``user:secret`` pairs) — with ``***``. Error messages, log records
(through :class:`RedactingFilter`), captured subprocess output and CLI output all pass
through it, so no call site needs its own regular expression.
"""

from __future__ import annotations

import base64
import logging
import threading
import urllib.parse
from collections.abc import Iterable
from typing import Any

MASK = "***"
#: What a *set* secret field shows when it is displayed on purpose (``block inspect``,
#: ``stowflow config``, the web UI and API) instead of its value.
MASKED = "********"
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary text; they are refused below

_lock = threading.Lock()
_secrets: set[str] = set()
_patterns: list[str] = []  # every form to replace, longest first


def _variants(value: str) -> set[str]:
    forms = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
    forms.add(base64.b64encode(value.encode()).decode().rstrip("="))
    return {f for f in forms if len(f) >= _MIN_SECRET_LENGTH}


def register_secret(value: str | bytes | None) -> None:
    """Remember ``value`` (and its encodings) as a secret to remove from all output.

    Called whenever a secret enters the process. Values shorter than four characters are
    ignored (masking them would corrupt ordinary text); ``None`` and ``""`` are ignored.
    """
    if value is None:
        return
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        forms = set(_patterns)
        forms.update(_variants(value))
        _patterns[:] = sorted(forms, key=len, reverse=True)


def register_basic_auth(username: str, password: str) -> None:
    """Register ``password`` and the base64 ``user:password`` form an HTTP header carries."""
    register_secret(password)
    pair = f"{username}:{password}"
    register_secret(base64.b64encode(pair.encode()).decode())


def known_secrets() -> frozenset[str]:
    """Return the registered secret values (for tests that grep output for them)."""
    with _lock:
        return frozenset(_secrets)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret value, in any known encoding, masked."""
    if not text:
        return text
    with _lock:
        patterns = list(_patterns)
    for pattern in patterns:
        if pattern in text:
            text = text.replace(pattern, MASK)
    return text


def redact_all(lines: Iterable[str]) -> list[str]:
    """Return each of ``lines`` redacted."""
    return [redact(line) for line in lines]


def redact_data(value: Any) -> Any:
    """Return ``value`` with every string inside it (dict keys and values, list items) redacted.

    For structured data that is stored or shown: event details, step outputs, JSON.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_data(k): redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message of every record it sees.

    Installed on stowflow's loggers and on run-log handlers; it renders ``msg % args``
    first so a secret passed as an argument is masked too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message with its redacted rendering; always keep the record."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix; leave it as is
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_logging_filter(logger_name: str = "stowflow") -> None:
    """Attach a :class:`RedactingFilter` to ``logger_name`` and its handlers (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
