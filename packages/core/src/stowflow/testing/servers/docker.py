"""Real-server fixtures for Docker: a Docker daemon, an htpasswd registry, a Python base image.

Nothing comes from the internet. The fixtures use Debian's ``docker.io`` (``dockerd`` and the
``docker`` CLI), ``docker-registry`` and ``debootstrap`` packages (the noxfile installs them);
no Docker SDK is imported here.

Fixtures (session scoped):

- ``docker_daemon``: a :class:`DockerDaemon`. The daemon ``DOCKER_HOST`` names (or the
  default socket) when one answers; otherwise ``dockerd`` is started with its own data root,
  exec root, pidfile and unix socket under a temporary folder, and stopped at the end. The
  fixture sets ``DOCKER_HOST`` for the session so code under test talks to that daemon.
  A daemon started here also listens on a 127.0.0.1 tcp port with TLS and client
  certificates required (``--tlsverify``; a CA, server and client certificate made with
  ``openssl``): :attr:`DockerDaemon.tls_host` and :attr:`DockerDaemon.cert_path` (the
  ``DOCKER_CERT_PATH`` layout: ``ca.pem``, ``cert.pem``, ``key.pem``) reach it as a
  remote daemon is reached.
- ``docker_registry``: a :class:`DockerRegistry` on a free 127.0.0.1 port, requiring HTTP
  Basic auth from one htpasswd user (Docker treats ``127.0.0.0/8`` registries as insecure,
  so plain HTTP works without daemon configuration).
- ``python_base_image``: the name of a Debian bookworm image with ``python3`` in a venv on
  ``PATH`` (like ``python:3.11-slim``), made once with ``debootstrap --variant=minbase``
  and ``docker import``. Its root filesystem is cached as a tarball in
  :func:`~stowflow.testing.servers._process.cache_dir`, keyed by the recipe and this
  machine's pip configuration, so later sessions (and CI runs with a cached folder) only
  import it. pip inside sees the same index configuration as pip here: ``/etc/pip.conf``,
  ``/etc/xdg/pip``, the ``PIP_INDEX_URL`` / ``PIP_EXTRA_INDEX_URL`` / ``PIP_TRUSTED_HOST``
  variables and the system CA bundle are copied in. The third-party dependencies of
  ``stowflow`` and ``stowflow-docker`` (as installed here) are pre-installed in the venv, so
  an image build's stowflow layer only adds the two wheels.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from filelock import FileLock

from stowflow.testing.servers._process import ServerProcess, cache_dir, free_port

DEBIAN_SUITE = "bookworm"
#: git for runs whose pull steps clone their code at run time.
BASE_PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates", "git")
#: Bump when the recipe below changes, so a cached tarball of the old recipe is not reused.
RECIPE_VERSION = "2"
VENV = "/opt/venv"
PIP_ENV_VARS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_DEFAULT_TIMEOUT")
PIP_CONFIG_PATHS = (Path("/etc/pip.conf"), Path("/etc/xdg/pip"))
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEFAULT_SOCKET = "unix:///var/run/docker.sock"


def docker_cli(host: str, *args: str, input: bytes | None = None, timeout: float = 600,
               check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run the ``docker`` CLI against ``host``; raise with its output when it fails."""
    env = {**os.environ, "DOCKER_HOST": host}
    result = subprocess.run(["docker", *args], env=env, input=input, capture_output=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:2])} failed ({result.returncode}): "
                           f"{result.stderr.decode(errors='replace')[-2000:]}")
    return result


def daemon_answers(host: str) -> bool:
    """Return whether a Docker daemon answers on ``host``."""
    if shutil.which("docker") is None:
        return False
    try:
        return docker_cli(host, "version", "--format", "{{.Server.Version}}", timeout=10,
                          check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@dataclass
class DockerDaemon:
    """A reachable Docker daemon (started by the fixture, or one that was already there)."""

    host: str
    process: ServerProcess | None = None
    root: Path | None = None
    #: ``tcp://127.0.0.1:PORT`` with TLS and client certificates (a daemon started here).
    tls_host: str | None = None
    #: The client's ``DOCKER_CERT_PATH`` for :attr:`tls_host`.
    cert_path: Path | None = None

    @property
    def started_here(self) -> bool:
        """Whether the fixture started this daemon (and will stop it)."""
        return self.process is not None

    def cli(self, *args: str, input: bytes | None = None, timeout: float = 600,
            check: bool = True) -> subprocess.CompletedProcess[bytes]:
        """Run ``docker ARGS`` against this daemon."""
        return docker_cli(self.host, *args, input=input, timeout=timeout, check=check)

    def inspect(self, kind: str, name: str) -> str:
        """Return ``docker <kind> inspect NAME`` output as text (for secret greps)."""
        return self.cli(kind, "inspect", name).stdout.decode(errors="replace")

    def stop(self) -> None:
        """Stop the daemon if the fixture started it; remove its folders."""
        if self.process is not None:
            self.process.stop()
            self.process = None
        if self.root is not None:
            # dockerd leaves its default network namespace bind-mounted under the exec root
            for mount in _mounts_under(self.root):
                subprocess.run(["umount", "-l", mount], capture_output=True, timeout=30)
            shutil.rmtree(self.root, ignore_errors=True)


def _mounts_under(root: Path) -> list[str]:
    """Return the mount points below ``root``, deepest first."""
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[1] for line in lines if len(line.split()) > 1]
    return sorted((p for p in points if p.startswith(f"{root}/")), key=len, reverse=True)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_tls_certificates(folder: Path, *, name: str = "stowflow-test") -> Path:
    """Make a CA, a server certificate for 127.0.0.1 and a client certificate in
    ``folder`` (EC P-256, valid two days); return the client's ``DOCKER_CERT_PATH``."""
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is missing: apt-get install openssl")
    folder.mkdir(parents=True, exist_ok=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *key, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2",
             "-subj", f"/CN={name}-ca", cwd=folder)
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n"
                                       "extendedKeyUsage=serverAuth\n")
    (folder / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for who, cert in (("server", "server-cert.pem"), ("client", "cert.pem")):
        keyfile = "server-key.pem" if who == "server" else "key.pem"
        _openssl("req", *key, "-keyout", keyfile, "-out", f"{who}.csr",
                 "-subj", f"/CN={name}-{who}", cwd=folder)
        _openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
                 "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", f"{who}.ext",
                 cwd=folder)
    client = folder / "client"
    client.mkdir(exist_ok=True)
    for source, target in (("ca.pem", "ca.pem"), ("cert.pem", "cert.pem"), ("key.pem", "key.pem")):
        shutil.copyfile(folder / source, client / target)
    return client


def start_docker_daemon(timeout: float = 60.0) -> DockerDaemon:
    """Return the daemon ``DOCKER_HOST`` names (or the default one) if it answers, else
    start ``dockerd`` on a private socket (root needed) and return it."""
    for host in filter(None, (os.environ.get("DOCKER_HOST"), DEFAULT_SOCKET)):
        if daemon_answers(host):
            return DockerDaemon(host)
    if shutil.which("dockerd") is None:
        raise RuntimeError("dockerd is missing: apt-get install docker.io")
    # A short root keeps the unix socket paths under the 108-byte limit.
    root = Path(tempfile.mkdtemp(prefix="sfdock-", dir="/tmp"))
    host = f"unix://{root}/docker.sock"
    tls = root / "tls"
    try:
        cert_path = make_tls_certificates(tls)
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    tls_host = f"tcp://127.0.0.1:{free_port()}"
    argv = ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
            "--pidfile", str(root / "dockerd.pid"), "--host", host, "--host", tls_host,
            "--tlsverify", "--tlscacert", str(tls / "ca.pem"),
            "--tlscert", str(tls / "server-cert.pem"), "--tlskey", str(tls / "server-key.pem"),
            # Leave the host's firewall alone; containers that need 127.0.0.1 use
            # network_mode=host, builds use --network host.
            "--iptables=false", "--ip6tables=false", "--ip-masq=false",
            "--bridge=none", "--log-level=warn", "--shutdown-timeout=2"]
    process = ServerProcess(argv, port=0, ready=lambda: daemon_answers(host),
                            log_path=root / "dockerd.log")
    try:
        process.start(timeout=timeout)
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return DockerDaemon(host, process, root, tls_host=tls_host, cert_path=cert_path)


@dataclass
class DockerRegistry:
    """A ``docker-registry`` on 127.0.0.1 with one htpasswd user."""

    port: int
    username: str
    password: str
    process: ServerProcess
    root: Path
    requests_log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.requests_log = self.process.log_path

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``: the registry part of an image name."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.address}"

    def log_text(self) -> str:
        """Return everything the registry printed (requests included)."""
        return self.process.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the registry and remove its storage."""
        self.process.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _htpasswd_line(username: str, password: str) -> str:
    """Return a bcrypt htpasswd line (apache2-utils' ``htpasswd``; the password on stdin)."""
    if shutil.which("htpasswd") is None:
        raise RuntimeError("htpasswd is missing: apt-get install apache2-utils")
    result = subprocess.run(["htpasswd", "-niB", username], input=password.encode(),
                            capture_output=True, check=True, timeout=30)
    return result.stdout.decode().strip()


def start_docker_registry(timeout: float = 30.0) -> DockerRegistry:
    """Start ``docker-registry`` with htpasswd auth on a free port and return it."""
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not Path(binary).exists():
        raise RuntimeError("docker-registry is missing: apt-get install docker-registry")
    root = Path(tempfile.mkdtemp(prefix="sfreg-"))
    username, password = "stowflow", f"reg-{uuid.uuid4().hex}"
    (root / "htpasswd").write_text(_htpasswd_line(username, password) + "\n")
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": False}},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")},
                    "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": uuid.uuid4().hex},
        "auth": {"htpasswd": {"realm": "stowflow-test", "path": str(root / "htpasswd")}},
    }
    (root / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    process = ServerProcess([binary, "serve", str(root / "config.yml")], port,
                            log_path=root / "registry.log")
    process.start(timeout=timeout)
    return DockerRegistry(port, username, password, process, root)


def _pip_configuration() -> dict[str, str]:
    """The pip configuration files and variables of this machine, by image path."""
    files: dict[str, str] = {}
    for path in PIP_CONFIG_PATHS:
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in candidates:
            if file.is_file():
                files[str(file)] = file.read_text(errors="replace")
    return files


def preinstalled_requirements() -> list[str]:
    """The third-party requirements of stowflow and stowflow-docker, as installed here."""
    import importlib.metadata

    from packaging.requirements import Requirement

    found: set[str] = set()
    for dist in ("stowflow", "stowflow-docker"):
        try:
            requires = importlib.metadata.requires(dist) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            if req.name.startswith("stowflow"):
                continue
            try:
                found.add(f"{req.name}=={importlib.metadata.version(req.name)}")
            except importlib.metadata.PackageNotFoundError:
                found.add(str(req))
    return sorted(found)


def base_image_key() -> str:
    """Return the cache key of the base image: recipe, pip configuration and CA bundle."""
    digest = hashlib.sha256()
    digest.update(json.dumps({
        "recipe": RECIPE_VERSION, "suite": DEBIAN_SUITE, "packages": BASE_PACKAGES,
        "pip_files": _pip_configuration(),
        "pip_env": {k: os.environ.get(k) for k in PIP_ENV_VARS},
        "preinstalled": preinstalled_requirements(),
    }, sort_keys=True).encode())
    if CA_BUNDLE.exists():
        digest.update(CA_BUNDLE.read_bytes())
    return digest.hexdigest()[:12]


def _debian_mirror() -> str:
    """The Debian mirror apt uses here (deb822 ``URIs:`` or a ``deb`` line), else deb.debian.org."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        with contextlib.suppress(OSError):
            for line in source.read_text().splitlines():
                words = line.split()
                if words[:1] == ["URIs:"] and "security" not in line:
                    return words[1]
                if words[:1] == ["deb"] and "security" not in line:
                    return next(w for w in words[1:] if "://" in w)
    return "http://deb.debian.org/debian"


def build_base_rootfs(tarball: Path) -> None:
    """Make the base image's root filesystem with debootstrap and write it to ``tarball``."""
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is missing: apt-get install debootstrap")
    work = Path(tempfile.mkdtemp(prefix="sfroot-"))
    rootfs = work / "rootfs"
    try:
        subprocess.run(["debootstrap", "--variant=minbase",
                        f"--include={','.join(BASE_PACKAGES)}", DEBIAN_SUITE, str(rootfs),
                        _debian_mirror()], check=True, capture_output=True, timeout=900)
        for path, text in _pip_configuration().items():
            target = rootfs / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        if CA_BUNDLE.exists():
            shutil.copyfile(CA_BUNDLE, rootfs / str(CA_BUNDLE).lstrip("/"))
        subprocess.run(["chroot", str(rootfs), "python3", "-m", "venv", VENV], check=True,
                       capture_output=True, timeout=300)
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        env.pop("PIP_FIND_LINKS", None)  # a folder of this machine, absent in the image
        subprocess.run(["chroot", str(rootfs), f"{VENV}/bin/pip", "install", "-q",
                        "--no-cache-dir", *preinstalled_requirements()],
                       check=True, capture_output=True, timeout=900, env=env)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc",
                     "usr/share/man", "usr/share/locale"):
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        partial = tarball.with_suffix(".part")
        subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."],
                       check=True, capture_output=True, timeout=600)
        partial.replace(tarball)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"building the base image failed: {exc.cmd[0]}: "
                           f"{(exc.stderr or b'').decode(errors='replace')[-2000:]}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ensure_python_base_image(daemon: DockerDaemon) -> str:
    """Return the base image's name, importing it (building its tarball first if needed)."""
    key = base_image_key()
    name = f"stowflow-test/python-base:{key}"
    if daemon.cli("image", "inspect", name, check=False).returncode == 0:
        return name
    folder = cache_dir() / "docker"
    folder.mkdir(parents=True, exist_ok=True)
    tarball = folder / f"python-base-{key}.tar"
    with FileLock(str(folder / f"python-base-{key}.lock")):
        if not tarball.exists():
            build_base_rootfs(tarball)
        changes = [f"ENV PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "ENV LANG=C.UTF-8", "ENV PYTHONDONTWRITEBYTECODE=1",
                   *(f"ENV {k}={os.environ[k]}" for k in PIP_ENV_VARS if os.environ.get(k)),
                   'CMD ["python3"]']
        args = ["import"]
        for change in changes:
            args += ["--change", change]
        daemon.cli(*args, str(tarball), name)
    return name


@pytest.fixture(scope="session")
def docker_daemon() -> Iterator[DockerDaemon]:
    """A Docker daemon for the session; ``DOCKER_HOST`` names it while the session runs."""
    daemon = start_docker_daemon()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_HOST", daemon.host)
        try:
            yield daemon
        finally:
            daemon.stop()


@pytest.fixture(scope="session")
def docker_registry() -> Iterator[DockerRegistry]:
    """A registry with htpasswd auth on 127.0.0.1 for the session."""
    registry = start_docker_registry()
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def python_base_image(docker_daemon: DockerDaemon) -> str:
    """The name of the offline-made Python base image, present in ``docker_daemon``."""
    return ensure_python_base_image(docker_daemon)


if __name__ == "__main__":  # warm the cache: python -m stowflow.testing.servers.docker
    daemon = start_docker_daemon()
    try:
        print(ensure_python_base_image(daemon))
    finally:
        daemon.stop()
