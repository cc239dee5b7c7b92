"""One nox file for the whole monorepo: tests, lint, typecheck, bench, demo.

``nox -s tests`` is the full test suite CI runs: it installs the system servers the tests
need (PostgreSQL from apt when missing, Azurite from npm into a cache), every package of the
monorepo in editable mode with the test dependencies, and runs pytest over all of them.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PACKAGES = ["core", "aws", "gcp", "azure", "github", "gitlab", "bitbucket", "docker"]
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def trust_system_certificates() -> None:
    """Point uv, npm and Python HTTP clients at the system CA bundle unless told otherwise.

    pip reads its own configuration, but uv and npm do not: behind a TLS-intercepting
    proxy whose CA is only in the system bundle they would fail to reach the registry.
    """
    if SYSTEM_CA_BUNDLE.exists():
        for variable in ("SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE"):
            os.environ.setdefault(variable, str(SYSTEM_CA_BUNDLE))


trust_system_certificates()


def dependency_group(name: str) -> list[str]:
    """Return the root pyproject's ``[dependency-groups]`` entry ``name``."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(data["dependency-groups"][name])


#: Installs write the packages' bytecode: the tests run with PYTHONDONTWRITEBYTECODE=1 (so
#: nothing writes into site-packages while a test compares its listing), and without .pyc
#: files every process a test starts (servers, workers, runs, CLI calls) would compile
#: pydantic, SQLAlchemy and FastAPI from source again.
COMPILED = {"UV_COMPILE_BYTECODE": "1"}


def install_packages(session: nox.Session) -> None:
    """Install every package of the monorepo, editable, core with its PostgreSQL and
    server extras."""
    args: list[str] = []
    for package in PACKAGES:
        spec = "packages/core[postgres,server]" if package == "core" else f"packages/{package}"
        args += ["-e", spec]
    session.install(*args, env=COMPILED)


def ensure_system_servers(session: nox.Session) -> None:
    """Install what the real-server fixtures run: PostgreSQL (apt) and Azurite (npm)."""
    if not (shutil.which("initdb") or Path("/usr/lib/postgresql").exists()):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            session.run("apt-get", "update", "-qq", external=True)
            session.run("apt-get", "install", "-y", "-qq", "postgresql", external=True)
        else:
            session.error("PostgreSQL is needed for the tests: apt-get install postgresql")
    session.run("python", "-m", "stowflow.testing.servers.azurite")
    ensure_chromium(session)
    ensure_docker_tools(session)


#: What the Docker fixtures run (dockerd and the CLI, the registry, the base image's tools),
#: by the program that shows the package is there.
DOCKER_APT = {"dockerd": "docker.io", "docker-registry": "docker-registry",
              "debootstrap": "debootstrap", "htpasswd": "apache2-utils",
              "openssl": "openssl"}  # openssl: the TLS certificates of the daemon's tcp port


def ensure_docker_tools(session: nox.Session) -> None:
    """Install Docker, the registry, debootstrap and htpasswd from apt when missing."""
    missing = [pkg for prog, pkg in DOCKER_APT.items()
               if not (shutil.which(prog) or Path("/usr/sbin", prog).exists()
                       or Path("/usr/bin", prog).exists())]
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        session.run("apt-get", "update", "-qq", external=True)
        session.run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing,
                    external=True)
    else:
        session.error(f"the Docker tests need: apt-get install {' '.join(missing)}")


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium(session: nox.Session) -> None:
    """Install Debian's chromium for the browser tests (Playwright drives it; it never
    downloads a browser of its own)."""
    if CHROMIUM.exists():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        session.run("apt-get", "update", "-qq", external=True)
        session.run("apt-get", "install", "-y", "-qq", "chromium", external=True)
    else:
        session.error("Chromium is needed for the browser tests: apt-get install chromium")


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """Run the whole test suite against real servers (moto, Azurite, fake-gcs, git, PostgreSQL)."""
    install_packages(session)
    session.install(*dependency_group("test"), env=COMPILED)
    ensure_system_servers(session)
    session.run("pytest", "--durations=15", *(session.posargs or []),
                env={"PYTHONDONTWRITEBYTECODE": "1"})


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """Run ruff over the whole tree."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """Run mypy over every package's sources."""
    install_packages(session)
    session.install(*dependency_group("lint"))
    session.run("mypy", *[f"packages/{p}/src" for p in PACKAGES])


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Run the benchmarks (sync engine, git, runs); pass --quick for a short run."""
    install_packages(session)
    session.install(*dependency_group("test"))
    for script in sorted(ROOT.glob("benchmarks/*/run.py")):
        session.run("python", str(script), *session.posargs)


@nox.session(python="3.11")
def demo(session: nox.Session) -> None:
    """Install core alone and run the quickstart on the embedded defaults."""
    session.install("./packages/core")
    session.run("stowflow", "quickstart")
