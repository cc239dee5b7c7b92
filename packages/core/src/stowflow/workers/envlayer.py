"""``EXTRA_PIP_PACKAGES``: extra packages for a run, installed into a cached layer.

A layer is a folder made by ``pip install --target`` (``uv pip install --target`` when uv
is on PATH), keyed by the hash of the normalised package list and the interpreter's
version, under ``STOWFLOW_HOME/cache/envlayers``. It is built once under a file lock into a
temporary folder and renamed into place, so concurrent runs share one install and a
failed install leaves nothing behind. The run subprocess appends the layer to its import
path (:func:`activate`); the worker's own environment is never modified, and packages the
worker already has win over the layer's copies (so a layer can never shadow stowflow).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

from filelock import FileLock

from stowflow.errors import RunError
from stowflow.redact import redact
from stowflow.settings import get_settings

ENV_VAR = "EXTRA_PIP_PACKAGES"
_DONE = ".stowflow-layer-complete"
INSTALL_TIMEOUT_S = 1800


def parse_packages(value: str | None) -> list[str]:
    """Split an ``EXTRA_PIP_PACKAGES`` value (spaces or commas) into requirement strings."""
    if not value:
        return []
    return [part for part in value.replace(",", " ").split() if part]


def layer_key(packages: list[str]) -> str:
    """Return the cache key of a package list: order and duplicates do not matter."""
    canonical = "\n".join(sorted(set(packages)))
    tag = f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}"
    return hashlib.sha256(f"{tag}\n{canonical}".encode()).hexdigest()[:24]


def layers_root() -> Path:
    """Return the folder holding every layer on this node."""
    return get_settings().cache_dir / "envlayers"


def _installer_argv(target: Path, packages: list[str]) -> list[str]:
    uv = shutil.which("uv")
    if uv:
        return [uv, "pip", "install", "--quiet", "--python", sys.executable,
                "--target", str(target), *packages]
    return [sys.executable, "-m", "pip", "install", "--quiet", "--no-input",
            "--disable-pip-version-check", "--target", str(target), *packages]


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
        try:
            argv = _installer_argv(staging, packages)
            try:
                result = subprocess.run(argv, capture_output=True, text=True, check=False,
                                        timeout=INSTALL_TIMEOUT_S, stdin=subprocess.DEVNULL)
            except FileNotFoundError as exc:
                raise RunError(f"cannot install the run's packages: {exc}",
                               hint="install uv or pip on the worker") from exc
            except subprocess.TimeoutExpired as exc:
                raise RunError(f"installing the run's packages ({' '.join(packages)}) took "
                               f"longer than {INSTALL_TIMEOUT_S}s") from exc
            if result.returncode != 0:
                message = _tail(result.stderr or result.stdout) or f"exit code {result.returncode}"
                raise RunError(f"installing the run's packages ({' '.join(packages)}) "
                               f"failed:\n{redact(message)}",
                               hint="check the package names and versions; the worker's "
                                    "environment was not changed")
            (staging / _DONE).write_text(" ".join(packages) + "\n")
            if layer.exists():  # a half-built leftover from a killed install
                shutil.rmtree(layer, ignore_errors=True)
            os.replace(staging, layer)
        finally:
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
