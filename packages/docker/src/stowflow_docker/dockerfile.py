"""The Dockerfile stowflow writes for ``dockerfile: auto``, and what goes in beside it.

Layers, least to most often changed, so a code-only change rebuilds one small layer:

1. the base image (``STOWFLOW_DOCKER_BASE_IMAGE``, default ``python:3.11-slim``);
2. the project's dependencies: ``requirements.txt``, or ``[project].dependencies`` of
   ``pyproject.toml`` (written out as a requirements file), installed alone;
3. stowflow, stowflow-docker and the plugins the deployment needs: wheels built from the
   local source of an editable or local install (not every package is on an index),
   ``name==version`` from the index otherwise;
4. the code, in :data:`CODE_DIR` (the image's working directory).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import unquote, urlsplit

from stowflow.errors import ConfigError, ImageBuildError
from stowflow.settings import get_settings

from stowflow_docker.context import BuildContext

DEFAULT_BASE_IMAGE = "python:3.11-slim"
BASE_IMAGE_ENV = "STOWFLOW_DOCKER_BASE_IMAGE"
#: Where the code lives in an image stowflow builds (and the image's WORKDIR).
CODE_DIR = "/opt/stowflow/flows"
AUTO_DOCKERFILE = "Dockerfile.stowflow"
_BUILD_DIR = ".stowflow-build"
#: What every image needs to run a container job.
CORE_DISTRIBUTIONS = ("stowflow", "stowflow-docker")


def base_image(explicit: str | None = None) -> str:
    """Return the base image: ``explicit``, else ``STOWFLOW_DOCKER_BASE_IMAGE``, else the default."""
    return explicit or os.environ.get(BASE_IMAGE_ENV) or DEFAULT_BASE_IMAGE


def project_requirements(root: Path) -> str | None:
    """Return the project's requirements text (``requirements.txt`` or pyproject's
    ``[project].dependencies``), or ``None`` when it declares none."""
    requirements = root / "requirements.txt"
    if requirements.is_file():
        return requirements.read_text(encoding="utf-8")
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{pyproject}: not valid TOML: {exc}") from exc
        deps = data.get("project", {}).get("dependencies") or []
        if deps:
            return "".join(f"{dep}\n" for dep in deps)
    return None


def _local_source(dist: importlib.metadata.Distribution) -> Path | None:
    """The folder a distribution was installed from (PEP 610 ``direct_url.json``), if local."""
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    info = json.loads(text)
    url = urlsplit(info.get("url", ""))
    if url.scheme != "file" or "dir_info" not in info:
        return None
    path = Path(unquote(url.path))
    return path if (path / "pyproject.toml").is_file() else None


def _tree_key(source: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(source.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and ".nox" not in path.parts:
            stat = path.stat()
            digest.update(f"{path.relative_to(source)}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
                          .encode())
    return digest.hexdigest()[:16]


def build_wheel(source: Path) -> Path:
    """Return a wheel of the project at ``source``, built once per source tree state."""
    out = get_settings().cache_dir / "docker" / "wheels" / f"{source.name}-{_tree_key(source)}"
    found = sorted(out.glob("*.whl")) if out.is_dir() else []
    if found:
        return found[0]
    partial = out.with_name(out.name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    uv = shutil.which("uv")
    argv = ([uv, "build", "--wheel", "--out-dir", str(partial), str(source)] if uv else
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(partial), str(source)])
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise ImageBuildError(f"building a wheel of {source} failed",
                              hint=result.stderr.strip()[-1500:])
    shutil.rmtree(out, ignore_errors=True)
    partial.replace(out)
    return sorted(out.glob("*.whl"))[0]


def stowflow_installs(distributions: list[str]) -> tuple[list[Path], list[str]]:
    """Return the wheels to copy in and the requirements to fetch for ``distributions``."""
    wheels: list[Path] = []
    pins: list[str] = []
    for name in dict.fromkeys([*CORE_DISTRIBUTIONS, *distributions]):
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError as exc:
            raise ConfigError(f"cannot put {name} in the image: it is not installed here",
                              hint=f"pip install {name}") from exc
        source = _local_source(dist)
        if source is not None:
            wheels.append(build_wheel(source))
        else:
            pins.append(f"{dist.metadata['Name']}=={dist.version}")
    return wheels, pins


def auto_context(root: Path, *, base: str | None = None,
                 plugins: list[str] | None = None) -> BuildContext:
    """Return the build context of ``dockerfile: auto`` for the project at ``root``."""
    context = BuildContext()
    lines = [f"FROM {base_image(base)}", "ENV PYTHONUNBUFFERED=1", f"WORKDIR {CODE_DIR}"]
    requirements = project_requirements(root)
    if requirements:
        context.add_bytes(f"{_BUILD_DIR}/requirements.txt", requirements.encode())
        lines += [f"COPY {_BUILD_DIR}/requirements.txt /opt/stowflow/requirements.txt",
                  "RUN python -m pip install --no-cache-dir --compile -r /opt/stowflow/requirements.txt"]
    wheels, pins = stowflow_installs(list(plugins or []))
    for wheel in wheels:
        context.add_file(f"{_BUILD_DIR}/wheels/{wheel.name}", wheel)
    installs = [f"/opt/stowflow/wheels/{w.name}" for w in wheels] + pins
    if wheels:
        lines.append(f"COPY {_BUILD_DIR}/wheels/ /opt/stowflow/wheels/")
    lines.append("RUN python -m pip install --no-cache-dir --compile " + " ".join(installs))
    context.add_tree("code/", root)
    lines.append(f"COPY code/ {CODE_DIR}/")
    context.add_bytes(AUTO_DOCKERFILE, ("\n".join(lines) + "\n").encode())
    return context


def plain_context(root: Path) -> BuildContext:
    """Return the context of a project's own Dockerfile: its files, as they are."""
    context = BuildContext()
    context.add_tree("", root)
    return context
