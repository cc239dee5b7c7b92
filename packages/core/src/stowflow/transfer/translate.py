"""The error-translation kit every object-store provider uses (one rule table, one wrapper).

A provider knows its SDK's exception types; what a failure *means* is decided here, once,
so the same mistake raises the same class from every provider:

- :data:`STATUS_RULES` / :func:`status_error_class`: an HTTP status → the
  :class:`~stowflow.errors.StorageError` subclass (404 not found; 401/403 refused;
  408, 412, 429 and 5xx worth retrying; anything else a plain ``StorageError``).
- :data:`EXCEPTION_RULES` / :func:`exception_error_class`: the standard library's
  transport failures (timeouts, resets) that SDKs let through.
- :func:`translating`: a context manager that turns an SDK exception into the provider's
  ``StorageError`` with the cause chained, lets stowflow errors through untouched, and
  lets an exception the provider does not recognise (a bug) propagate as it is.
- :class:`TranslatingStream`: a readable stream whose read errors are translated the same
  way (a download that breaks mid-body).

A provider's own module keeps only the SDK-specific part: which exception or error code
means which status, and the words of its messages (store, action, key, the service's code).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from typing import Any

from stowflow.errors import (
    StorageAuthError,
    StorageError,
    StorageNotFoundError,
    StorageTransientError,
)

#: A provider's translation of one exception: the stowflow error to raise, or ``None``
#: when the exception is not an SDK/transport failure and should propagate unchanged.
Translator = Callable[[BaseException], "StorageError | None"]

#: Status → class, first match wins. 412 is retryable: the only conditional requests the
#: providers make are ranged reads pinned to one version of an object, which fail with 412
#: when the object changed mid-read; reading again gets one consistent copy.
STATUS_RULES: tuple[tuple[Callable[[int], bool], type[StorageError]], ...] = (
    (lambda status: status == 404, StorageNotFoundError),
    (lambda status: status in (401, 403), StorageAuthError),
    (lambda status: status in (408, 412, 429) or status >= 500, StorageTransientError),
)

#: Standard-library transport failures an SDK may let through, first match wins.
EXCEPTION_RULES: tuple[tuple[type[BaseException], type[StorageError]], ...] = (
    (TimeoutError, StorageTransientError),
    (ConnectionError, StorageTransientError),
)


def status_error_class(status: int | None) -> type[StorageError]:
    """Return the storage error class for an HTTP ``status`` (``StorageError`` when unknown)."""
    if status:
        for matches, cls in STATUS_RULES:
            if matches(int(status)):
                return cls
    return StorageError


def exception_error_class(exc: BaseException) -> type[StorageError] | None:
    """Return the storage error class for a standard-library transport failure, else ``None``."""
    for kind, cls in EXCEPTION_RULES:
        if isinstance(exc, kind):
            return cls
    return None


@contextlib.contextmanager
def translating(translate: Translator) -> Iterator[None]:
    """Run the block, re-raising SDK failures as ``translate(exc)`` with ``exc`` as the cause.

    A :class:`~stowflow.errors.StorageError` raised inside passes through unchanged;
    ``translate`` returning ``None`` lets the original exception propagate.
    """
    try:
        yield
    except StorageError:
        raise
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from exc


class TranslatingStream(io.RawIOBase):
    """A raw stream over ``source.read(n)`` whose failures arrive as stowflow storage errors.

    ``source`` is an SDK response body or downloader (anything with ``read(size)`` and
    optionally ``close()``); ``translate`` is the provider's :data:`Translator`. Wrap it in
    :class:`io.BufferedReader` for line reads; ``read()`` with no size reads the rest.
    """

    def __init__(self, source: Any, translate: Translator) -> None:
        super().__init__()
        self._source = source
        self._translate = translate

    def readable(self) -> bool:
        """Always ``True``."""
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Return up to ``size`` bytes (all the rest when ``size`` is ``None`` or negative)."""
        with translating(self._translate):
            if size is None or size < 0:
                return bytes(self._source.read())
            return bytes(self._source.read(size))

    def readall(self) -> bytes:
        """Return the rest of the stream."""
        return self.read()

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` with the next bytes; return how many (0 at the end)."""
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        """Close the source (once) and the stream."""
        if not self.closed:
            close = getattr(self._source, "close", None)
            if callable(close):
                close()
        super().close()
