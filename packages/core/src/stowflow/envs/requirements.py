"""Requirements and lock files, read into what a layer key and its installer need.

:func:`read_requirements` understands:

- a requirements file (``requirements.txt``): its digest covers the content of every
  ``-r``/``-c`` include (recursively, relative to the including file) and of every local
  file it names (``./wheels/x.whl``, ``file:///…``), so an edited include or a rebuilt
  wheel is a new layer while a touched-but-unchanged file is not. Comments, blank lines
  and line continuations do not count. A file with ``--hash`` options is installed with
  ``--require-hashes``.
- ``uv.lock``: exported with ``uv export --frozen --no-dev --no-emit-project`` (the
  project's ``pyproject.toml`` must be beside it) into a hash-pinned requirements text.
- ``pylock.toml`` / ``pylock.<name>.toml`` (PEP 751): installed by uv as it is; every
  artifact carries its hash.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from stowflow.errors import StepError
from stowflow.redact import redact, register_secret

if TYPE_CHECKING:
    from packaging.requirements import Requirement

_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+)(\S+)$")
_PYLOCK = re.compile(r"^pylock(\.[^.]+)?\.toml$")
_HASH = re.compile(r"--hash[=\s]")


@dataclass(frozen=True)
class Requirements:
    """One requirements or lock file, ready for a layer."""

    shown: str  #: how events and errors name it (the path as the user gave it)
    digest: str  #: sha256 of its resolved content: the part of the layer key it adds
    kind: str  #: "requirements", "uv.lock" or "pylock"
    path: Path  #: the file handed to the installer (when ``text`` is None)
    text: str | None = field(default=None, compare=False)  #: installer input made from a lock
    require_hashes: bool = False  #: install with --require-hashes (every line is pinned)


def read_requirements(path: Path, *, shown: str | None = None) -> Requirements:
    """Read the requirements or lock file at ``path`` (see the module docstring).

    Raises :class:`StepError` for a missing file or include, an include cycle, or a lock
    file that cannot be exported.
    """
    shown = shown or str(path)
    if not path.is_file():
        raise StepError(f"no requirements file at '{path}'")
    path = path.resolve()
    if path.name == "uv.lock":
        text = _uv_export(path)
        register_url_passwords(text)
        return Requirements(shown=shown, digest=_sha(_canonical(text)), kind="uv.lock",
                            path=path, text=text, require_hashes=bool(_HASH.search(text)))
    if _PYLOCK.match(path.name):
        data = path.read_bytes()
        try:
            tomllib.loads(data.decode())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise StepError(f"'{shown}' is not a valid pylock.toml: {exc}") from None
        register_url_passwords(data.decode())
        return Requirements(shown=shown, digest=_sha(data.decode()), kind="pylock", path=path)
    parts: list[str] = []
    hashed = _resolve(path, parts, seen=[], shown=shown)
    return Requirements(shown=shown, digest=_sha("\n".join(parts)), kind="requirements",
                        path=path, require_hashes=hashed)


#: A URL inside a word: ``--index-url=https://u:p@h/simple``, ``pkg@https://...``, ``git+https://...``.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s]+")


def register_url_passwords(text: str) -> None:
    """Register with the redactor the password (or token user) of every URL in ``text``."""
    for match in _URL.finditer(text):
        try:
            url = urlsplit(match.group(0))
        except ValueError:
            continue
        if url.password:
            register_secret(url.password)
        elif url.username:
            register_secret(url.username)  # a token given as the user: https://TOKEN@host


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _logical_lines(text: str) -> list[str]:
    """Return the file's lines with continuations joined and comments and blanks dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = pending + raw
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        pending = ""
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            lines.append(" ".join(line.split()))
    if pending.strip():
        lines.append(" ".join(pending.split()))
    return lines


def _canonical(text: str) -> str:
    return "\n".join(_logical_lines(text))


def _resolve(path: Path, parts: list[str], *, seen: list[Path], shown: str) -> bool:
    """Append the canonical content of ``path`` and its includes to ``parts``; return
    whether any line carries a ``--hash``."""
    if path in seen:
        chain = " -> ".join(p.name for p in [*seen, path])
        raise StepError(f"'{shown}': the requirements include each other ({chain})")
    seen = [*seen, path]
    hashed = False
    for line in _logical_lines(path.read_text(errors="replace")):
        register_url_passwords(line)
        include = _INCLUDE.match(line)
        if include:
            option, target = include.groups()
            if "://" in target:  # a remote include: keyed by its URL
                parts.append(line)
                continue
            included = (path.parent / target).resolve()
            if not included.is_file():
                raise StepError(f"'{shown}': {path.name} includes '{target}', which does not "
                                f"exist (looked for {included})")
            kind = "c" if option in ("-c", "--constraint") else "r"
            parts.append(f"{kind}:{included.name}")
            hashed = _resolve(included, parts, seen=seen, shown=shown) or hashed
            continue
        parts.append(line)
        local = _local_file(line, path.parent)
        if local is not None:
            parts.append(f"file:{hashlib.sha256(local.read_bytes()).hexdigest()}")
        hashed = hashed or bool(_HASH.search(line))
    return hashed


def _local_file(line: str, base: Path) -> Path | None:
    """Return the local file a requirement line installs from, if it names one."""
    word = line.split(" --", 1)[0].strip()
    if " @ " in word:
        word = word.split(" @ ", 1)[1].strip()
    if word.startswith("file:"):
        word = unquote(urlsplit(word).path)
    elif word.startswith("-") or "://" in word:
        return None
    candidate = (base / word).expanduser()
    return candidate if word.endswith((".whl", ".tar.gz", ".zip")) and candidate.is_file() else None


def _uv_export(lock: Path) -> str:
    uv = shutil.which("uv")
    if uv is None:
        raise StepError(f"cannot read '{lock}': exporting a uv.lock needs uv on the worker",
                        hint="install uv (pip install uv) or commit a requirements.txt")
    if not (lock.parent / "pyproject.toml").is_file():
        raise StepError(f"cannot read '{lock}': there is no pyproject.toml beside it")
    argv = [uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-header",
            "--format", "requirements-txt", "--project", str(lock.parent)]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False,
                                timeout=300, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StepError(f"cannot export '{lock}': {exc}") from exc
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-10:])
        raise StepError(f"cannot export '{lock}' (uv export failed): {redact(tail)}",
                        hint="run 'uv lock' and commit the updated uv.lock")
    return result.stdout


def is_satisfied(requirement: Requirement) -> bool:
    """Return whether an installed distribution satisfies ``requirement``.

    A requirement whose marker does not apply to this interpreter counts as satisfied.
    """
    from packaging.utils import canonicalize_name

    if requirement.marker is not None and not requirement.marker.evaluate():
        return True
    try:
        version = importlib.metadata.version(canonicalize_name(requirement.name))
    except importlib.metadata.PackageNotFoundError:
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return False
    return requirement.specifier.contains(version, prereleases=True)
