"""One shared redactor: it knows the actual secret values in play and removes them.

Every secret value stowflow touches (a block's ``SecretStr`` field when it is loaded or
created, a token handed to git, a key read from the environment) is registered here with
:func:`register_secret`. :func:`redact` replaces each known value — and its common encodings
(URL-quoted, base64 of ``user:secret`` pairs) — with ``***``. Error messages, log records
(through :class:`RedactingFilter`), captured subprocess output and CLI output all pass
through it, so no call site needs its own regular expression.

It also masks what *looks* secret in any URL in the text, known or not (:func:`mask_url`):
the password of ``user:password@`` (a lone user part on web URLs, often a token) and the
values of query parameters named like credentials (``sig=`` of an Azure SAS,
``X-Amz-Signature=`` / ``X-Amz-Credential=`` of a presigned URL, ``token=``, ``key=`` …).
An SDK's message that quotes a URL it was given is therefore safe to show.
"""

from __future__ import annotations

import base64
import logging
import re
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

#: Query parameter names holding credentials, matched as parts of the lowercased name.
SECRET_QUERY_WORDS = ("sig", "token", "secret", "password", "passwd", "pwd", "credential",
                      "key", "auth", "sas", "session", "code")
#: Schemes whose lone user part is an account name, not a token.
_NAMED_USER_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git", "sftp", "scp"})
_URL_IN_TEXT = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*)://([^\s'\"<>`]*)")
# user:password@ whose password holds a '/' (AWS secret keys do): the user part has none.
_SLASHED_USERINFO = re.compile(r"^([^/:@?#]*):([^@?#]*)@")
_PORT_THEN_PATH = re.compile(r"^\d+(/|$)")  # host:8080/path/a@b is a host, not a user
_QUERY_PARAM = re.compile(r"([?&])([A-Za-z0-9_.-]+)=([^\s&#'\"<>]*)")


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


def _mask_userinfo(scheme: str, userinfo: str) -> str:
    user, sep, _ = userinfo.partition(":")
    if sep:
        return f"{user}:{MASK}@"
    # A lone user part is a token on web and storage URLs, an account name on ssh ones.
    return f"{user}@" if scheme in _NAMED_USER_SCHEMES else f"{MASK}@"


def _mask_param(match: re.Match[str]) -> str:
    lowered = match.group(2).lower()
    if match.group(3) and any(word in lowered for word in SECRET_QUERY_WORDS):
        return f"{match.group(1)}{match.group(2)}={MASK}"
    return match.group(0)


def _mask_authority(scheme: str, rest: str) -> str:
    """Mask the ``user:password@`` at the start of ``rest`` (a URL after ``scheme://``)."""
    authority_end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if found != -1:
            authority_end = min(authority_end, found)
    at = rest.rfind("@", 0, authority_end)
    if at != -1:
        return _mask_userinfo(scheme, rest[:at]) + rest[at + 1:]
    slashed = _SLASHED_USERINFO.match(rest)
    if slashed and not _PORT_THEN_PATH.match(slashed.group(2)):
        return _mask_userinfo(scheme, slashed.group(0)[:-1]) + rest[slashed.end():]
    return rest


def mask_url(url: str) -> str:
    """Return ``url`` as written, minus what looks secret: the password of ``user:pass@``
    (``user:***@``, also when the password holds a ``/``), a lone user part (``***@``, a
    token on web and storage URLs; kept on ssh URLs, where it is an account name) and the
    values of credential-like query parameters (``sig=***``).

    Known secrets elsewhere in the text are :func:`redact`'s job.
    """
    return mask_urls(url)


def mask_urls(text: str) -> str:
    """Return ``text`` with the userinfo of every ``scheme://…`` URL in it masked, and
    the value of every credential-like ``?name=`` / ``&name=`` parameter (also in request
    lines that quote only a path, as urllib3's debug log does)."""
    if "://" in text:
        text = _URL_IN_TEXT.sub(
            lambda m: f"{m.group(1)}://{_mask_authority(m.group(1).lower(), m.group(2))}",
            text)
    if "=" in text:
        text = _QUERY_PARAM.sub(_mask_param, text)
    return text


def redact(text: str) -> str:
    """Return ``text`` with every registered secret value, in any known encoding, masked,
    and every URL in it masked by :func:`mask_url`."""
    if not text:
        return text
    with _lock:
        patterns = list(_patterns)
    for pattern in patterns:
        if pattern in text:
            text = text.replace(pattern, MASK)
    return mask_urls(text)


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
    """Attach a :class:`RedactingFilter` to ``logger_name`` and its handlers (idempotent).

    A logger's own filter sees only records logged on it; a handler's sees every record it
    writes, so the root logger's handlers (``""``) mask SDK records shown with ``--debug``.
    """
    logger = logging.getLogger(logger_name)
    for target in (logger, *logger.handlers):
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())
