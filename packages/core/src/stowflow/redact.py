"""One shared redactor: it knows the actual secret values in play and removes them.

Every secret value stowflow touches (a block's ``SecretStr`` field when it is loaded or
created, a token handed to git, a key read from the environment) is registered here with
:func:`register_secret`. :func:`redact` replaces each known value — and its common encodings
(URL-quoted, base64 of ``user:secret`` pairs) — with ``***``. Error messages, log records
(through :class:`RedactingFilter`), captured subprocess output and CLI output all pass
through it, so no call site needs its own regular expression.

It also masks what *is* secret in any URL in the text, known or not (:func:`mask_url`):
the password of ``user:password@`` (a lone user part on web URLs, often a token) and the
values of the query parameters that carry credentials (:func:`is_secret_param`: the
signature and credential of S3 presigned and GCS signed URLs, an Azure SAS's ``sig``, a GCS
upload session's ``upload_id``, OAuth and API-key parameters). An SDK's message that
quotes a URL it was given is therefore safe to show, and the rest of the URL — ``max-keys``,
``X-Amz-SignedHeaders``, a SAS's expiry ``se`` — stays readable.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

MASK = "***"
#: What a *set* secret field shows when it is displayed on purpose (``block inspect``,
#: ``stowflow config``, the web UI and API) instead of its value.
MASKED = "********"
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary text; they are refused below

_lock = threading.Lock()
_secrets: set[str] = set()
_patterns: list[str] = []  # every form to replace, longest first

#: Query parameters that carry a credential, by exact (lowercased) name. S3 presigned URLs
#: (SigV4: X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token; SigV2: Signature,
#: AWSAccessKeyId, x-amz-security-token), GCS signed URLs (V4: X-Goog-Signature,
#: X-Goog-Credential; V2: GoogleAccessId, Signature), a GCS resumable-upload session URI's
#: upload_id (whoever holds it can write the object; S3's uploadId is not, its requests are
#: signed), an Azure SAS's sig (its sv, se, st, sp, sr, ss, srt, spr, si and skoid/sktid
#: are version, times, permissions, scope and ids), OAuth's code and session ids.
SECRET_QUERY_PARAMS = frozenset({
    "x-amz-signature", "x-amz-credential", "x-amz-security-token", "signature",
    "awsaccesskeyid", "x-goog-signature", "x-goog-credential", "googleaccessid", "upload_id",
    "sig", "code", "auth", "authorization", "sessionid", "session_id", "jsessionid",
})
#: ... and any parameter whose last word is one of these (``access_token``, ``client_secret``,
#: ``api_key``, ``apiKey``, ``subscription-key``, ``db_password``); ``max-keys`` or
#: ``key-marker`` end in another word.
SECRET_QUERY_LAST_WORDS = frozenset({
    "token", "secret", "password", "passwd", "pwd", "key", "apikey", "signature", "sig",
    "credential", "credentials", "assertion",
})
#: Pagination cursors: named like tokens, but no credential (S3, GCS, generic).
PAGE_CURSORS = frozenset({"continuation-token", "pagetoken", "nextpagetoken", "page_token",
                          "next_token", "nexttoken"})
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
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


def is_secret_param(name: str) -> bool:
    """Whether a query parameter called ``name`` carries a credential (see
    :data:`SECRET_QUERY_PARAMS` and :data:`SECRET_QUERY_LAST_WORDS`)."""
    lowered = name.lower()
    if lowered in SECRET_QUERY_PARAMS:
        return True
    if lowered in PAGE_CURSORS:
        return False
    words = _WORDS.findall(name)
    return bool(words) and words[-1].lower() in SECRET_QUERY_LAST_WORDS


def _mask_param(match: re.Match[str]) -> str:
    if match.group(3) and is_secret_param(match.group(2)):
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
    values of the query parameters that carry credentials (``sig=***``,
    :func:`is_secret_param`).

    Known secrets elsewhere in the text are :func:`redact`'s job.
    """
    return mask_urls(url)


def mask_urls(text: str) -> str:
    """Return ``text`` with the userinfo of every ``scheme://…`` URL in it masked, and
    the value of every credential ``?name=`` / ``&name=`` parameter (also in request
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


def mask_secret_fields(value: Any, *, keep: Callable[[str], bool] | None = None) -> Any:
    """Return JSON-like ``value`` redacted (:func:`redact_data`), with the string held by
    every secret-named key (:func:`is_secret_param`: ``access_token``, ``password``,
    ``aws_secret_access_key``, ``GITHUB_TOKEN``) replaced by :data:`MASKED`, at any depth.

    For configuration written by people and shown back (a deployment's pull steps and job
    variables): a literal token there is not a registered secret, so :func:`redact` alone
    would show it. ``keep(text)`` true keeps a string as written (a placeholder).
    """
    if isinstance(value, dict):
        return {redact_data(k): MASKED if isinstance(k, str) and is_secret_param(k)
                and isinstance(v, str) and v and not (keep and keep(v))
                else mask_secret_fields(v, keep=keep) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secret_fields(v, keep=keep) for v in value]
    return redact_data(value)


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
