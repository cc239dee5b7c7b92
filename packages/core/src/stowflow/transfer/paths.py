"""Safe relative POSIX paths and store keys.

Every path the engine is about to write — from a manifest or from a foreign folder's
listing — passes :func:`safe_relpath` *before* anything is written, so nothing can land
outside the destination. Prefixes are directories: :func:`dir_prefix` adds the ``/`` that
stops ``folder`` from matching ``folder-2/...``.
"""

from __future__ import annotations

import re
import unicodedata

from stowflow.errors import UnsafePathError

# Anything safe_relpath could refuse: a backslash, a control character (Unicode category
# Cc is exactly U+0000-U+001F and U+007F-U+009F), an empty, "." or ".." component (an
# absolute path has an empty first one), or a drive-like first component. A path it does
# not match is safe without the per-character checks (a manifest has thousands of paths).
_MAYBE_UNSAFE = re.compile(r"[\\\x00-\x1f\x7f-\x9f]|(?:^|/)\.{0,2}(?:/|$)|^[^/]:(?:/|$)")


def safe_relpath(path: str, *, where: str = "") -> str:
    """Return ``path`` if it is a safe relative POSIX path, else raise ``UnsafePathError``.

    Refused: empty paths, absolute paths, ``..`` or ``.`` components, empty components
    (``a//b``), backslashes, NUL and other control characters. ``where`` (a store and key,
    or a manifest id) is named in the error.
    """
    if _MAYBE_UNSAFE.search(path) is None:
        return path
    origin = f" in {where}" if where else ""
    if not path:
        raise UnsafePathError(f"empty path{origin}")
    problem = None
    if path.startswith("/"):
        problem = "is absolute"
    elif "\\" in path:
        problem = "contains a backslash"
    elif any(unicodedata.category(ch) == "Cc" for ch in path):
        problem = "contains a control character"
    else:
        parts = path.split("/")
        if any(part in ("", ".", "..") for part in parts):
            problem = "has an empty, '.' or '..' component"
        elif len(parts[0]) == 2 and parts[0][1] == ":":
            problem = "looks like a drive path"
    if problem:
        raise UnsafePathError(
            f"refusing path {path!r}{origin}: it {problem}",
            hint="paths must be relative POSIX paths inside the destination; nothing was written",
        )
    return path


def normalize_prefix(prefix: str) -> str:
    """Return ``prefix`` without leading or trailing ``/``; ``""`` means the bucket root.

    Raises ``UnsafePathError`` for a prefix with ``..``, ``.`` or backslash components.
    """
    stripped = prefix.strip("/")
    if stripped:
        safe_relpath(stripped, where="the prefix")
    return stripped


def dir_prefix(prefix: str) -> str:
    """Return the listing prefix that makes ``prefix`` a directory (``"a/b"`` → ``"a/b/"``)."""
    prefix = normalize_prefix(prefix)
    return f"{prefix}/" if prefix else ""


def join_key(prefix: str, relpath: str) -> str:
    """Return the store key of ``relpath`` under ``prefix``."""
    prefix = normalize_prefix(prefix)
    return f"{prefix}/{relpath}" if prefix else relpath


def check_tree(paths: list[str], *, where: str = "") -> None:
    """Refuse a set of paths that cannot coexist in one tree (a file that is also a folder).

    Every path must already be :func:`safe_relpath`-checked.
    """
    files = set(paths)
    folders: set[str] = set()  # checked already, with all their parents
    for path in paths:
        parent = path
        while "/" in parent:
            parent = parent.rsplit("/", 1)[0]
            if parent in folders:
                break
            folders.add(parent)
            if parent in files:
                origin = f" in {where}" if where else ""
                raise UnsafePathError(
                    f"refusing path {path!r}{origin}: {parent!r} is both a file and a folder"
                )


def check_paths(paths: list[str], *, where: str = "") -> None:
    """Refuse a tree's paths unless each is :func:`safe_relpath` and they can coexist
    (:func:`check_tree`); nothing has been written yet when this is called."""
    maybe_unsafe = _MAYBE_UNSAFE.search
    for path in paths:
        if maybe_unsafe(path) is not None:
            safe_relpath(path, where=where)
    check_tree(paths, where=where)
