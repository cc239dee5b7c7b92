"""Deploy-time copies of code sources: one pull per source and ref for many flows.

``Flow.from_source`` needs the code only to read each flow's metadata. A script that
deploys 100 flows from one repository calls it 100 times with the same URL and ref; each
call used to pull again (an ``ls-remote`` and a ``git status`` of the whole tree at
least). :func:`pull_source` pulls a source once and hands the same folder to every call
in this process that asks for the same source — same storage type, URL, ref and
settings, and the same credentials — within :data:`REUSE_SECONDS` of that pull. After
that (or for another setting) it pulls again, so a long-lived process still sees new
commits. Copies live under ``STOWFLOW_HOME/cache/sources/<digest>`` (never the cwd).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from pathlib import Path
from typing import Any

from stowflow.settings import get_settings
from stowflow.storage.base import PullResult, Storage

#: How long one pull of a source serves further ``from_source`` calls of this process.
REUSE_SECONDS = 60.0

_lock = threading.Lock()
_key_locks: dict[tuple[Any, ...], threading.Lock] = {}
_pulled: dict[tuple[Any, ...], tuple[float, PullResult]] = {}  # key → (monotonic time, pull)


def source_cache_dir(storage: Storage) -> Path:
    """Return the node-local folder where deploy-time copies of ``storage`` are kept.

    Object-store pulls go through the shared content cache, so the files fetched here are
    not downloaded again by a worker on this machine.
    """
    digest = hashlib.sha256(f"{type(storage).__name__}:{storage.describe()}".encode()).hexdigest()
    return get_settings().cache_dir / "sources" / digest[:16]


class _Unkeyable(Exception):
    """A setting whose equality cannot be judged safely: pull without reuse."""


def _identity(value: Any, depth: int = 0) -> Any:
    """A hashable value equal for equal settings; secrets enter as their sha256 only."""
    if depth > 8:
        raise _Unkeyable
    if value is None or isinstance(value, str | int | float | bool | bytes):
        return value
    if isinstance(value, Path):
        return ("path", str(value))
    get_secret = getattr(value, "get_secret_value", None)
    if callable(get_secret):  # pydantic SecretStr / SecretBytes
        secret = get_secret()
        raw = secret.encode() if isinstance(secret, str) else bytes(secret)
        return ("secret", hashlib.sha256(raw).hexdigest())
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), _identity(v, depth + 1))
                                     for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("seq", tuple(_identity(v, depth + 1) for v in value))
    fields = getattr(type(value), "model_fields", None)  # pydantic models (blocks)
    if isinstance(fields, dict):
        return (type(value).__qualname__,
                tuple((name, _identity(getattr(value, name, None), depth + 1))
                      for name in sorted(fields)))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__qualname__,
                tuple((f.name, _identity(getattr(value, f.name), depth + 1))
                      for f in dataclasses.fields(value)))
    raise _Unkeyable


def _source_key(storage: Storage, destination: Path) -> tuple[Any, ...] | None:
    """Everything a pull of ``storage`` depends on, or ``None`` when it cannot be told."""
    try:
        settings = {name: value for name, value in vars(storage).items()
                    if not name.startswith("last_")}  # what the last pull found, not a setting
        return (type(storage).__module__, type(storage).__qualname__, storage.describe(),
                str(destination), _identity(settings))
    except (_Unkeyable, TypeError):
        return None


def pull_source(storage: Storage) -> PullResult:
    """Pull ``storage`` into its deploy-time folder, or reuse this process's recent pull.

    Returns what the pull produced (folder and version). Concurrent calls for one source
    wait for a single pull. A pull of another source (or setting) into the same folder
    makes earlier reuses of that folder void.
    """
    destination = source_cache_dir(storage)
    key = _source_key(storage, destination)
    if key is None:
        return storage.pull(destination)
    with _lock:
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _lock:
            found = _pulled.get(key)
        if found and time.monotonic() - found[0] < REUSE_SECONDS \
                and Path(found[1].directory).is_dir():
            return found[1]
        result = storage.pull(destination)
        directory = Path(result.directory)
        with _lock:
            for other in [k for k, (_, r) in _pulled.items() if Path(r.directory) == directory]:
                del _pulled[other]  # that folder now holds this source's code
            _pulled[key] = (time.monotonic(), result)
        return result


def forget_pulls() -> None:
    """Make the next :func:`pull_source` of every source pull again (tests, benchmarks)."""
    with _lock:
        _pulled.clear()
