"""Building and pushing images through the Docker SDK, with the output streamed (redacted).

:func:`build_image` and :func:`push_image` are the engine behind the
``build_docker_image`` / ``push_docker_image`` steps and ``flow.deploy(image=DockerImage(...))``.
A build's progress lines are printed as they arrive; a failing build is one
:class:`~stowflow.errors.ImageBuildError` naming the failing step with the output's tail.
"""

from __future__ import annotations

import collections
import io
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stowflow.errors import ConfigError, ImageBuildError, ImageError, ImageNotFoundError
from stowflow.redact import redact

from stowflow_docker._client import docker_client
from stowflow_docker._errors import is_auth_failure, translated
from stowflow_docker.context import BuildContext
from stowflow_docker.dockerfile import AUTO_DOCKERFILE, CODE_DIR, auto_context, plain_context

if TYPE_CHECKING:
    import docker

    from stowflow_docker.credentials import DockerRegistryCredentials

Progress = Callable[[str], None]
#: The network of build steps (``RUN pip install`` needs one) unless a build names its own;
#: ``host`` where the daemon's default network cannot reach the package index.
BUILD_NETWORK_ENV = "STOWFLOW_DOCKER_BUILD_NETWORK"
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_STEP_RE = re.compile(r"^Step \d+/\d+ : ")


def print_progress(line: str) -> None:
    """Write one line of build or push output to the terminal, redacted."""
    print(redact(line), file=sys.stderr, flush=True)


def split_reference(reference: str) -> tuple[str, str | None]:
    """Split ``name[:tag]`` (a registry port is not a tag) into name and tag."""
    name, sep, tag = reference.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return reference, None


def check_image_name(name: str) -> None:
    """Raise a ConfigError unless ``name`` can name a Docker repository."""
    if (not name or name != name.strip() or any(c.isspace() or c.isupper() for c in name)
            or "@" in name):
        raise ConfigError(f"invalid image name {name!r}",
                          hint="use lower-case letters, digits, '.', '-', '_' and '/', with an "
                               "optional registry host[:port]/ in front, e.g. "
                               "registry.example.com/team/flows")


@dataclass
class DockerImage:
    """An image for ``flow.deploy(image=...)``: what to build and how.

    ``tag`` defaults to a digest of the build context; ``dockerfile="auto"`` lets stowflow
    write the Dockerfile (see :mod:`stowflow_docker.dockerfile`); ``plugins`` are the
    stowflow plugins to install beside stowflow-docker; ``credentials`` are used to push.
    Extra keyword arguments go to the SDK's build call (``network_mode="host"``, ...).
    """

    name: str
    tag: str | None = None
    dockerfile: str = "auto"
    platform: str | None = None
    build_args: dict[str, str] | None = None
    base_image: str | None = None
    plugins: list[str] = field(default_factory=list)
    credentials: DockerRegistryCredentials | None = None
    build_kwargs: dict[str, Any] = field(default_factory=dict)

    def __init__(self, name: str, tag: str | None = None, dockerfile: str = "auto",
                 platform: str | None = None, build_args: dict[str, str] | None = None,
                 base_image: str | None = None, plugins: list[str] | None = None,
                 credentials: DockerRegistryCredentials | None = None,
                 **build_kwargs: Any) -> None:
        found_name, found_tag = split_reference(name)
        if tag is not None and found_tag is not None:
            raise ConfigError(f"image {name!r} has a tag and tag={tag!r} was given too",
                              hint="give the tag once")
        check_image_name(found_name)
        self.name, self.tag = found_name, tag or found_tag
        self.dockerfile, self.platform, self.build_args = dockerfile, platform, build_args
        self.base_image, self.plugins = base_image, list(plugins or [])
        self.credentials = credentials
        self.build_kwargs = build_kwargs

    @property
    def reference(self) -> str:
        """``name:tag`` (``name`` alone before a default tag is known)."""
        return f"{self.name}:{self.tag}" if self.tag else self.name


@dataclass
class BuiltImage:
    """What :func:`build_image` made: names, id, and whether it was built or reused."""

    image_name: str
    tag: str
    image_id: str
    built: bool

    @property
    def image(self) -> str:
        """``name:tag``."""
        return f"{self.image_name}:{self.tag}"


def _context_for(image: DockerImage, root: Path) -> tuple[BuildContext, str]:
    if image.dockerfile == "auto":
        return auto_context(root, base=image.base_image, plugins=image.plugins), AUTO_DOCKERFILE
    dockerfile = Path(image.dockerfile)
    if dockerfile.is_absolute() or ".." in dockerfile.parts:
        raise ConfigError(f"dockerfile {image.dockerfile!r} must be a path inside {root}")
    if not (root / dockerfile).is_file():
        raise ConfigError(f"no Dockerfile at {root / dockerfile}",
                          hint="write one, or use dockerfile: auto")
    return plain_context(root), dockerfile.as_posix()


def _run_build(client: docker.DockerClient, image: DockerImage, context: BuildContext,
               dockerfile: str, reference: str, progress: Progress) -> str:
    """Stream one build; return the image id or raise ImageBuildError with the tail."""
    tail: collections.deque[str] = collections.deque(maxlen=25)
    step = "the build"
    image_id = None
    kwargs = dict(image.build_kwargs)
    if os.environ.get(BUILD_NETWORK_ENV):
        kwargs.setdefault("network_mode", os.environ[BUILD_NETWORK_ENV])
    kwargs.setdefault("rm", True)
    kwargs.setdefault("forcerm", True)
    with translated("building", reference):
        stream: Iterable[dict[str, Any]] = client.api.build(
            fileobj=io.BytesIO(context.seal()), custom_context=True, encoding=None,
            dockerfile=dockerfile, tag=reference, decode=True, platform=image.platform,
            buildargs=image.build_args, **kwargs)
        for chunk in stream:
            if "error" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                output = "\n".join(tail)
                raise ImageBuildError(
                    f"building {reference} failed at {step}: {' '.join(str(detail).split())}",
                    hint=f"the build's last output:\n{output}" if output else None)
            text = chunk.get("stream")
            if text:
                for line in str(text).splitlines():
                    if line.strip():
                        tail.append(redact(line))
                        progress(line)
                        if _STEP_RE.match(line):
                            step = line.split(" : ", 1)[0].lower() + f" ({line.split(' : ', 1)[1]})"
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = str(aux["ID"])
    if image_id is None:
        with translated("inspecting", reference):
            image_id = str(client.images.get(reference).id)
    return image_id


def build_image(image: DockerImage, root: Path | str = ".", *,
                progress: Progress = print_progress) -> BuiltImage:
    """Build ``image`` from the project at ``root`` (unless ``name:tag`` already exists
    with a content-digest tag) and return what was made."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise ConfigError(f"cannot build from {root}: it is not a folder")
    context, dockerfile = _context_for(image, root)
    tag = image.tag
    digest_tag = tag is None
    if digest_tag:
        extras = [image.platform or "", repr(sorted((image.build_args or {}).items())),
                  repr(sorted(image.build_kwargs.items()))]
        tag = context.digest(*extras)[:16]
    assert tag is not None
    if not _TAG_RE.match(tag):
        raise ConfigError(f"invalid image tag {tag!r}",
                          hint="use up to 128 letters, digits, '_', '.' and '-'")
    reference = f"{image.name}:{tag}"
    client = docker_client()
    if digest_tag:  # the same content was built before: nothing to do
        existing = _local_image(client, reference)
        if existing is not None:
            progress(f"{reference} is up to date (the build context is unchanged)")
            return BuiltImage(image.name, tag, existing, built=False)
    image_id = _run_build(client, image, context, dockerfile, reference, progress)
    return BuiltImage(image.name, tag, image_id, built=True)


def _local_image(client: docker.DockerClient, reference: str) -> str | None:
    import docker.errors

    try:
        return str(client.images.get(reference).id)
    except docker.errors.ImageNotFound:
        return None


@dataclass
class PushedImage:
    """What :func:`push_image` did: the digest the registry gave the manifest."""

    image_name: str
    tag: str
    digest: str

    @property
    def image(self) -> str:
        """The image pinned by digest: ``name@sha256:...``."""
        return f"{self.image_name}@{self.digest}"


def push_image(image_name: str, tag: str, credentials: DockerRegistryCredentials | None = None,
               *, progress: Progress = print_progress) -> PushedImage:
    """Push ``image_name:tag``; return its registry digest. Credentials go to the daemon in
    the request's auth header (never argv, never a file)."""
    reference = f"{image_name}:{tag}"
    client = docker_client()
    if _local_image(client, reference) is None:
        raise ImageNotFoundError(f"cannot push {reference}: there is no such image here",
                                 hint="build it first (build_docker_image)")
    auth = credentials.auth_config() if credentials is not None else None
    digest = None
    last_status = ""
    with translated("pushing", reference):
        for chunk in client.api.push(image_name, tag=tag, stream=True, decode=True,
                                     auth_config=auth):
            if "error" in chunk:
                detail = " ".join(str(chunk.get("errorDetail", {}).get("message")
                                      or chunk["error"]).split())
                if is_auth_failure(detail):
                    from stowflow.errors import RegistryAuthError

                    raise RegistryAuthError(
                        f"pushing {reference}: the registry refused the credentials: {detail}",
                        hint="check the DockerRegistryCredentials block (username, password, "
                             "registry_url) and that it may push to this repository")
                raise ImageError(f"pushing {reference} failed: {detail}")
            status = chunk.get("status")
            if status and not chunk.get("progress"):  # one line per status, not per byte
                line = f"{chunk.get('id', '')}: {status}".strip(": ")
                if line != last_status:
                    progress(line)
                    last_status = line
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = str(aux["Digest"])
    if digest is None:
        raise ImageError(f"pushing {reference}: the registry reported no digest")
    return PushedImage(image_name, tag, digest)


__all__ = ["CODE_DIR", "BuiltImage", "DockerImage", "PushedImage", "build_image", "push_image"]
