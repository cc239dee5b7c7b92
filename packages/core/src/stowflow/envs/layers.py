"""Environment layers: a run's packages, installed once into a cached folder.

A layer is a folder made by ``uv pip install --target`` (``pip install --target`` when uv
is not on PATH) under ``STOWFLOW_HOME/cache/envlayers/<key>``. Its key
(:func:`layer_key`) is the hash of the interpreter tag and the layer's inputs: the
``EXTRA_PIP_PACKAGES`` words, the ``requires:`` of steps, and the digest of every
requirements or lock file (its content, includes resolved; see :mod:`.requirements`).
It is built once under a file lock into a temporary folder and renamed into place, so
concurrent builders on one machine share one install (the others wait) and a failed or
killed install leaves no layer behind. A process that uses a layer holds a shared lease
on it (``flock``, released by the kernel when the process ends), so ``stowflow env prune``
never deletes a layer a running run is using.

The run appends the layer to its import path (:func:`activate`); the worker's own
environment is never modified, and packages the worker already has win over the layer's
copies (so a layer can never shadow stowflow).

``EXTRA_PIP_PACKAGES`` may name a private index with credentials in its URL
(``--index-url https://user:token@host/simple pkg``). Such a password is registered with
the redactor, the list is handed to the installer in a private (0600) requirements file
rather than on its command line, and every copy kept or shown (events, the layer's
marker file, errors) has the user info masked.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from stowflow.envs.requirements import Requirements, register_url_passwords
from stowflow.errors import RunError
from stowflow.redact import redact

ENV_VAR = "EXTRA_PIP_PACKAGES"
#: The marker (JSON metadata) written last into a complete layer.
DONE = ".stowflow-layer-complete"
#: Folder inside a layer: one file per deployment that used it (its mtime: last use).
USED = ".stowflow-used"
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
        register_url_passwords(part)
    return packages


def split_installed(packages: list[str]) -> tuple[list[str], list[str]]:
    """Split ``EXTRA_PIP_PACKAGES`` entries into ``(to install, already installed)``.

    A plain requirement (a name with optional specifiers, no URL) that this interpreter's
    own environment already satisfies is not installed again: a layer is appended after
    the worker's packages, so its copy could never be imported anyway. Options and the
    values they take, URLs and anything else pass through unchanged.
    """
    if not packages:
        return [], []
    from packaging.requirements import InvalidRequirement, Requirement

    from stowflow.envs.requirements import is_satisfied

    wanted: list[str] = []
    present: list[str] = []
    after_option = False
    for index, word in enumerate(packages):
        direct = "@" in word or packages[index + 1:index + 2] == ["@"]  # name @ url
        plain = not (after_option or direct or word.startswith("-") or "://" in word)
        after_option = word in _OPTIONS_WITH_VALUE
        if plain:
            try:
                requirement = Requirement(word)
            except InvalidRequirement:
                requirement = None
            if requirement is not None and requirement.url is None and is_satisfied(requirement):
                present.append(word)
                continue
        wanted.append(word)
    return wanted, present


def masked(packages: Iterable[str]) -> list[str]:
    """Return ``packages`` with every URL's credentials masked, for events and markers."""
    return [redact(part) for part in packages]


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


def interpreter_tag() -> str:
    """Return what a layer built by this interpreter is bound to: implementation, version
    and platform (``cpython-311-linux-x86_64``)."""
    return f"{sys.implementation.cache_tag}-{sysconfig.get_platform()}"


def layer_key(inputs: Iterable[str], *, interpreter: str | None = None) -> str:
    """Return the cache key of a layer: the hash of ``interpreter`` (default
    :func:`interpreter_tag`; a container image digest for a layer built inside one) and
    ``inputs`` (package words, requirement digests); order and duplicates do not matter."""
    canonical = "\n".join(sorted(set(inputs)))
    tag = interpreter or interpreter_tag()
    return hashlib.sha256(f"{tag}\n{canonical}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class LayerSpec:
    """What goes into one layer: package words and requirements/lock files."""

    packages: tuple[str, ...] = ()
    requirements: tuple[Requirements, ...] = ()

    def key(self) -> str:
        """Return this spec's layer key (see :func:`layer_key`)."""
        return layer_key([*self.packages, *(f"requirements:{r.digest}" for r in self.requirements)])

    def shown(self) -> list[str]:
        """Return the spec as shown in events, errors and ``env ls`` (URL user info masked)."""
        return [*masked(self.packages), *(f"-r {r.shown}" for r in self.requirements)]

    def merged(self, other: LayerSpec) -> LayerSpec:
        """Return a spec with the inputs of both (first occurrence kept)."""
        return LayerSpec(tuple(dict.fromkeys([*self.packages, *other.packages])),
                         tuple(dict.fromkeys([*self.requirements, *other.requirements])))


@dataclass
class Layer:
    """A complete layer on this machine, as ``ensure_layer`` returns it."""

    path: Path
    key: str
    built: bool  #: installed by this call (a cache miss)
    waited_s: float = 0.0  #: time spent waiting for another builder's lock
    lease: IO[bytes] | None = field(default=None, repr=False)

    def release(self) -> None:
        """Give up this process's lease (prune may delete the layer afterwards)."""
        if self.lease is not None:
            self.lease.close()
            self.lease = None


def layers_root() -> Path:
    """Return the folder holding every layer on this node."""
    from stowflow.settings import get_settings  # a run that installs nothing never loads it

    return get_settings().cache_dir / "envlayers"


def _lease_path(root: Path, key: str) -> Path:
    return root / f"{key}.lease"


def take_lease(root: Path, key: str) -> IO[bytes]:
    """Hold a shared lease on layer ``key`` until the returned file is closed (or the
    process ends); waits while ``prune`` is deleting it."""
    handle = open(_lease_path(root, key), "ab")  # noqa: SIM115 - held for the layer's use
    fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
    return handle


def try_exclusive(root: Path, key: str) -> IO[bytes] | None:
    """Return an exclusive hold on layer ``key`` when no process leases it, else ``None``."""
    handle = open(_lease_path(root, key), "ab")  # noqa: SIM115 - closed by the caller
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _installer(target: Path) -> list[str]:
    uv = shutil.which("uv")
    if uv:
        return [uv, "pip", "install", "--quiet", "--python", sys.executable,
                "--target", str(target)]
    return [sys.executable, "-m", "pip", "install", "--quiet", "--no-input",
            "--disable-pip-version-check", "--target", str(target)]


def _private_file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def _passes(spec: LayerSpec, target: Path, private: Path) -> Iterator[tuple[list[str], Path | None]]:
    """Yield ``(installer argv, cwd)`` for each pass that builds ``spec`` into ``target``:
    lock and hash-pinned files first (``--require-hashes``, so the layer is
    reproducible), then the other requirements files, then the package words; each
    later pass resolves against what the earlier ones installed. A file's pass runs in
    its folder, so relative paths in it mean what they mean to ``pip install -r``."""
    uv = shutil.which("uv") is not None
    ordered = sorted(spec.requirements, key=lambda req: not req.require_hashes)
    for index, req in enumerate(ordered):
        if req.kind == "pylock" and not uv:
            raise RunError(f"cannot install {req.shown}: installing a pylock.toml needs uv",
                           hint="install uv on the worker (pip install uv)")
        source = req.path if req.text is None else _private_file(
            private, f"exported-{index}.txt", req.text)
        flags = ["--require-hashes"] if req.require_hashes else []
        yield [*_installer(target), *flags, "-r", str(source)], req.path.parent
    if spec.packages:
        packages = _private_file(private, "packages.txt",
                                 "\n".join(requirements_lines(list(spec.packages))) + "\n")
        yield [*_installer(target), "-r", str(packages)], None


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run(argv: list[str], shown: str, cwd: Path | None) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd,
                                timeout=INSTALL_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise RunError(f"cannot install the run's packages: {exc}",
                       hint="install uv or pip on the worker") from exc
    except subprocess.TimeoutExpired as exc:
        raise RunError(f"installing the run's packages ({shown}) took "
                       f"longer than {INSTALL_TIMEOUT_S}s") from exc
    if result.returncode != 0:
        message = _tail(result.stderr or result.stdout) or f"exit code {result.returncode}"
        raise RunError(f"installing the run's packages ({shown}) failed:\n{redact(message)}",
                       hint="check the package names and versions; the worker's "
                            "environment was not changed")


def folder_size(path: Path) -> int:
    """Return the bytes of the regular files under ``path`` (symlinks not followed)."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def installed_distributions(path: Path) -> list[str]:
    """Return ``name==version`` of every distribution installed in the folder ``path``."""
    import importlib.metadata

    found = {f"{dist.metadata['Name']}=={dist.version}"
             for dist in importlib.metadata.distributions(path=[str(path)])}
    return sorted(found, key=str.lower)


def ensure_layer(spec: LayerSpec | list[str], *, used_by: str | None = None) -> Layer:
    """Return the complete layer for ``spec``, installing it if it is not cached.

    The returned layer is leased by this process (see :meth:`Layer.release`); ``used_by``
    (a deployment's name) is recorded for ``stowflow env ls``. Raises RunError carrying
    the installer's own (redacted) message when the install fails; nothing is left behind.
    """
    if isinstance(spec, list):
        spec = LayerSpec(tuple(spec))
    root = layers_root()
    root.mkdir(parents=True, exist_ok=True)
    key = spec.key()
    path = root / key
    lease = take_lease(root, key)
    try:
        built, waited = False, 0.0
        if not (path / DONE).exists():
            from filelock import FileLock

            start = time.perf_counter()
            with FileLock(str(root / f"{key}.lock")):
                waited = time.perf_counter() - start
                if not (path / DONE).exists():  # else another run built it while we waited
                    _build(spec, root, key)
                    built = True
        mark_used(path, used_by)
    except BaseException:
        lease.close()
        raise
    return Layer(path=path, key=key, built=built, waited_s=waited, lease=lease)


def _build(spec: LayerSpec, root: Path, key: str) -> None:
    path = root / key
    staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=root))
    private = Path(tempfile.mkdtemp(prefix=f"{key}.req.", dir=root))
    shown = " ".join(spec.shown())
    try:
        for argv, cwd in _passes(spec, staging, private):
            _run(argv, shown, cwd)
        meta = {"key": key, "interpreter": interpreter_tag(), "inputs": spec.shown(),
                "packages": installed_distributions(staging),
                "created": time.time(), "size": folder_size(staging)}
        (staging / DONE).write_text(json.dumps(meta, indent=1) + "\n")
        if path.exists():  # a half-built leftover from a killed install
            shutil.rmtree(path, ignore_errors=True)
        os.replace(staging, path)
    finally:
        shutil.rmtree(private, ignore_errors=True)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def mark_used(path: Path, used_by: str | None) -> None:
    """Record that ``used_by`` (a deployment) used the layer at ``path`` now."""
    folder = path / USED
    folder.mkdir(exist_ok=True)
    label = used_by or "(no deployment)"
    marker = folder / hashlib.sha256(label.encode()).hexdigest()[:16]
    if marker.exists():
        os.utime(marker)
    else:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".tmp")
        with os.fdopen(fd, "w") as handle:
            handle.write(label + "\n")
        os.replace(temp, marker)


def activate(layer: Path, *, replacing: Path | None = None) -> None:
    """Append ``layer`` to this process's import path (processing its ``.pth`` files) and
    to ``PYTHONPATH`` for processes the flow starts; installed packages keep precedence.
    ``replacing`` (a layer this one contains) is taken off both first. Plugins the layer
    brings are picked up."""
    entries = [e for e in os.environ.get("PYTHONPATH", "").split(os.pathsep) if e]
    if replacing is not None:
        sys.path[:] = [e for e in sys.path if e != str(replacing)]
        entries = [e for e in entries if e != str(replacing)]
    site.addsitedir(str(layer))
    os.environ["PYTHONPATH"] = os.pathsep.join([*entries, str(layer)])
    import importlib

    importlib.invalidate_caches()
    # The layer may bring stowflow plugins: rebuild the plugin manager to see their entry
    # points (the fork server built it before the layer existed).
    from stowflow.plugins import reset_plugin_manager

    reset_plugin_manager()
