"""``EXTRA_PIP_PACKAGES``: extra packages for a run, installed into a cached layer.

A layer is a folder made by ``pip install --target`` (``uv pip install --target`` when uv
is on PATH), keyed by the hash of the normalised package list and the interpreter's
version, under ``STOWFLOW_HOME/cache/envlayers``. It is built once under a file lock into a
temporary folder and renamed into place, so concurrent runs share one install and a
failed install leaves nothing behind. The run subprocess appends the layer to its import
path (:func:`activate`); the worker's own environment is never modified, and packages the
worker already has win over the layer's copies (so a layer can never shadow stowflow).

``EXTRA_PIP_PACKAGES`` may name a private index with credentials in its URL
(``--index-url https://user:token@host/simple pkg``). Such a password is registered with
the redactor, the list is handed to the installer in a private (0600) requirements file
rather than on its command line, and every copy kept or shown (events, the layer's
marker file, errors) has the user info masked.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from filelock import FileLock

from stowflow.errors import RunError
from stowflow.redact import MASK, redact, register_secret
from stowflow.settings import get_settings

ENV_VAR = "EXTRA_PIP_PACKAGES"
_DONE = ".stowflow-layer-complete"
INSTALL_TIMEOUT_S = 1800


#: Installer options whose value is the next word (``--index-url URL``).
_OPTIONS_WITH_VALUE = frozenset({"-i", "--index-url", "--extra-index-url", "-f", "--find-links",
                                 "--trusted-host", "-c", "--constraint"})


def parse_packages(value: str | None) -> list[str]:
    """Split an ``EXTRA_PIP_PACKAGES`` value (spaces or commas) into requirement strings.

    Any password in a URL among them is registered with the redactor at once.
    """
    if not value:
        return []
    packages = [part for part in value.replace(",", " ").split() if part]
    for part in packages:
        _register_url_password(part)
    return packages


#: A URL inside a word: ``--index-url=https://u:p@h/simple``, ``pkg@https://...``, ``git+https://...``.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s]+")
#: The user info of a URL: ``://user:password@`` or ``://token@``.
_USERINFO = re.compile(r"(://)[^/@\s]+@")


def _register_url_password(part: str) -> None:
    for match in _URL.finditer(part):
        try:
            url = urlsplit(match.group(0))
        except ValueError:
            continue
        if url.password:
            register_secret(url.password)
        elif url.username:
            register_secret(url.username)  # a token given as the user: https://TOKEN@host


def masked(packages: list[str]) -> list[str]:
    """Return ``packages`` with the user info of every URL masked, for events and markers."""
    return [redact(_USERINFO.sub(rf"\1{MASK}@", part)) for part in packages]


def requirements_lines(packages: list[str]) -> list[str]:
    """Return ``packages`` as requirements-file lines (an option and its value on one line)."""
    lines: list[str] = []
    words = iter(packages)
    for word in words:
        if word in _OPTIONS_WITH_VALUE:
            lines.append(f"{word} {next(words, '')}".rstrip())
        else:
            lines.append(word)
    return lines


def layer_key(packages: list[str]) -> str:
    """Return the cache key of a package list: order and duplicates do not matter."""
    canonical = "\n".join(sorted(set(packages)))
    tag = f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}"
    return hashlib.sha256(f"{tag}\n{canonical}".encode()).hexdigest()[:24]


def layers_root() -> Path:
    """Return the folder holding every layer on this node."""
    return get_settings().cache_dir / "envlayers"


def _installer_argv(target: Path, requirements: Path) -> list[str]:
    uv = shutil.which("uv")
    if uv:
        return [uv, "pip", "install", "--quiet", "--python", sys.executable,
                "--target", str(target), "-r", str(requirements)]
    return [sys.executable, "-m", "pip", "install", "--quiet", "--no-input",
            "--disable-pip-version-check", "--target", str(target), "-r", str(requirements)]


def _write_requirements(folder: Path, packages: list[str]) -> Path:
    path = folder / "requirements.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(requirements_lines(packages)) + "\n")
    return path


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def ensure_layer(packages: list[str]) -> tuple[Path, bool]:
    """Return ``(layer folder, built_now)`` for ``packages``, installing them if not cached.

    Raises RunError carrying the installer's own message when the install fails.
    """
    root = layers_root()
    root.mkdir(parents=True, exist_ok=True)
    key = layer_key(packages)
    layer = root / key
    if (layer / _DONE).exists():
        return layer, False
    with FileLock(str(root / f"{key}.lock")):
        if (layer / _DONE).exists():  # another run built it while we waited
            return layer, False
        staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=root))
        private = Path(tempfile.mkdtemp(prefix=f"{key}.req.", dir=root))
        shown = " ".join(masked(packages))
        try:
            argv = _installer_argv(staging, _write_requirements(private, packages))
            try:
                result = subprocess.run(argv, capture_output=True, text=True, check=False,
                                        timeout=INSTALL_TIMEOUT_S, stdin=subprocess.DEVNULL)
            except FileNotFoundError as exc:
                raise RunError(f"cannot install the run's packages: {exc}",
                               hint="install uv or pip on the worker") from exc
            except subprocess.TimeoutExpired as exc:
                raise RunError(f"installing the run's packages ({shown}) took "
                               f"longer than {INSTALL_TIMEOUT_S}s") from exc
            if result.returncode != 0:
                message = _tail(result.stderr or result.stdout) or f"exit code {result.returncode}"
                raise RunError(f"installing the run's packages ({shown}) "
                               f"failed:\n{redact(message)}",
                               hint="check the package names and versions; the worker's "
                                    "environment was not changed")
            (staging / _DONE).write_text(shown + "\n")
            if layer.exists():  # a half-built leftover from a killed install
                shutil.rmtree(layer, ignore_errors=True)
            os.replace(staging, layer)
        finally:
            shutil.rmtree(private, ignore_errors=True)
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return layer, True


def activate(layer: Path) -> None:
    """Append ``layer`` to this process's import path (processing its ``.pth`` files) and
    to ``PYTHONPATH`` for processes the flow starts; installed packages keep precedence.
    Plugins the layer brings are picked up."""
    site.addsitedir(str(layer))
    current = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = f"{current}{os.pathsep}{layer}" if current else str(layer)
    import importlib

    importlib.invalidate_caches()
    # The layer may bring stowflow plugins: rebuild the plugin manager to see their entry
    # points (a standby interpreter built it before the layer existed).
    from stowflow.plugins import reset_plugin_manager

    reset_plugin_manager()
