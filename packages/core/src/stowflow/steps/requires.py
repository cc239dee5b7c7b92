"""``requires:`` of a step: which distributions it needs, checked and installed.

Requirements are distribution names with optional version specifiers and markers
(``stowflow-aws>=0.1``). They are checked against the installed distributions' metadata
(``importlib.metadata``) — never by guessing an import name — and whatever is missing or
too old is installed — inside a flow run into the run's environment layer
(:mod:`stowflow.envs.run`; the worker's own interpreter is never changed), outside a run
into the running interpreter with ``uv pip`` when ``uv`` is on ``PATH``, else with
``python -m pip``. A failed install is a :class:`StepError` (or, in a run, a
:class:`RunError`) carrying the installer's own (redacted) message.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

from stowflow.envs.requirements import is_satisfied
from stowflow.errors import StepError
from stowflow.redact import redact

if TYPE_CHECKING:
    from packaging.requirements import Requirement

_TAIL_LINES = 20


def parse_requirements(requires: str | list[str] | None, *, step: str = "") -> list[Requirement]:
    """Parse ``requires`` (one string or a list of strings) into requirements.

    Raises :class:`StepError` naming ``step`` for a value that is not a requirement.
    """
    if requires is None:
        return []
    # packaging only when a step has requires: every run's pull steps pass through here
    from packaging.requirements import InvalidRequirement, Requirement

    items = [requires] if isinstance(requires, str) else requires
    if not isinstance(items, list):
        raise StepError(
            f"step '{step}': 'requires' must be a string or a list of strings, "
            f"got {type(requires).__name__}"
        )
    parsed = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise StepError(f"step '{step}': 'requires' entries must be non-empty strings, got {item!r}")
        try:
            parsed.append(Requirement(item.strip()))
        except InvalidRequirement as exc:
            raise StepError(
                f"step '{step}': invalid requirement {item!r}: {exc}",
                hint="use a distribution name with optional specifiers, e.g. stowflow-aws>=0.1",
            ) from None
    return parsed


def missing_requirements(requirements: list[Requirement]) -> list[Requirement]:
    """Return the requirements no installed distribution satisfies."""
    return [r for r in requirements if not is_satisfied(r)]


def installer_command(args: list[str]) -> list[str]:
    """Return the argv that installs ``args`` into this interpreter (uv if present, else pip).

    Raises :class:`StepError` when neither uv nor pip is available.
    """
    uv = shutil.which("uv")
    if uv:
        return [uv, "pip", "install", "--python", sys.executable, *args]
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip", "install", *args]
    raise StepError(
        "cannot install packages: neither 'uv' nor pip is available to this Python",
        hint="install uv (https://docs.astral.sh/uv/) or pip into the environment",
    )


def run_installer(args: list[str], *, what: str) -> subprocess.CompletedProcess[str]:
    """Install ``args`` with uv or pip; raise :class:`StepError` with the installer's message.

    ``what`` names the thing being installed for the error message.
    """
    command = installer_command(args)
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise StepError(f"could not start the installer for {what}: {exc}") from exc
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-_TAIL_LINES:])
        raise StepError(
            f"installing {what} failed (exit {result.returncode}): {redact(tail)}",
            hint="check the package names and versions, and that the package index is reachable",
        )
    importlib.invalidate_caches()
    return result


def ensure_requirements(requires: str | list[str] | None, *, step: str = "") -> list[str]:
    """Install whatever ``requires`` names that is not installed; return what was installed
    (into the run's layer inside a flow run, else into this interpreter).

    Raises :class:`StepError` for an invalid requirement, a failed install, or an install
    that did not produce a satisfying distribution.
    """
    missing = missing_requirements(parse_requirements(requires, step=step))
    if not missing:
        return []
    names = [str(r) for r in missing]
    from stowflow.envs.run import current

    run_env = current()
    if run_env is not None:
        run_env.install(names, source=f"requires of step '{step}'")
    else:
        run_installer(names, what=f"{', '.join(names)} (required by step '{step}')")
    still = missing_requirements(missing)
    if still:
        raise StepError(
            f"step '{step}': {', '.join(map(str, still))} is still not satisfied after installing",
            hint="the installed version does not match the specifier",
        )
    return names
