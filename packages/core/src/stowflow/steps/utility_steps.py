"""Core utility steps: change directory, install requirements, run a shell script."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from stowflow.errors import StepError
from stowflow.redact import redact
from stowflow.steps.requires import run_installer

_TAIL_LINES = 20
_ENV_REF = re.compile(r"\$(?:(\w+)|\{(\w+)\})")


def set_working_directory(directory: str) -> dict[str, str]:
    """Change the process's working directory to ``directory``; return ``{"directory"}``.

    Used as a pull step for code that is already on the machine (local storage).
    """
    path = Path(directory).expanduser().resolve()  # before chdir: relative to where we are
    if not path.is_dir():
        raise StepError(f"set_working_directory: '{directory}' is not a directory")
    os.chdir(path)
    return {"directory": str(path)}


def pip_install_requirements(
    directory: str | None = None, requirements_file: str = "requirements.txt"
) -> dict[str, str]:
    """Install ``requirements_file`` (in ``directory``, default the working directory).

    The file may be a requirements file (``-r``/``-c`` includes are followed), a
    ``uv.lock`` (exported with ``uv export``) or a ``pylock.toml``; hash-pinned input is
    installed with ``--require-hashes``.

    Inside a flow run (on a worker) the requirements go into the run's cached environment
    layer, keyed by the interpreter, the file's resolved content and ``EXTRA_PIP_PACKAGES``;
    the worker's own environment is never changed, and a second run with the same inputs
    reuses the layer. Outside a run (called from your own script) it installs into the
    current environment, with ``uv pip`` when uv is on PATH, else pip.

    Returns ``{"stdout", "stderr"}`` of the installer (inside a run also the layer's
    ``key`` and whether it was ``cached``); a failed install raises :class:`StepError`
    or :class:`RunError` with the installer's (redacted) message.
    """
    from stowflow.envs import read_requirements
    from stowflow.envs.run import current

    base = Path(directory).expanduser() if directory else Path.cwd()
    path = base / requirements_file
    if not path.is_file():
        raise StepError(f"pip_install_requirements: no requirements file at '{path}'")
    run_env = current()
    if run_env is not None:
        details = run_env.install(requirements=[read_requirements(path, shown=requirements_file)],
                                  source="pip_install_requirements")
        return {"stdout": "", "stderr": "", "key": details["key"],
                "cached": "true" if details["cached"] else "false"}
    result = _install_here(path)
    return {"stdout": redact(result.stdout), "stderr": redact(result.stderr)}


def _install_here(path: Path) -> subprocess.CompletedProcess[str]:
    """Install ``path`` into the current environment (outside a run)."""
    from stowflow.envs import read_requirements

    requirements = read_requirements(path)
    flags = ["--require-hashes"] if requirements.require_hashes else []
    what = f"the requirements in '{path}'"
    if requirements.text is None:
        return run_installer([*flags, "-r", str(path)], what=what)
    with tempfile.TemporaryDirectory(prefix="stowflow-export-") as folder:  # an exported uv.lock
        exported = Path(folder) / "requirements.txt"
        exported.write_text(requirements.text)
        return run_installer([*flags, "-r", str(exported)], what=what)


def _pump(stream: IO[str], sink: list[str], echo: IO[str] | None) -> None:
    for line in stream:
        sink.append(line)
        if echo is not None:
            echo.write(redact(line))
            echo.flush()


def run_shell_script(
    script: str,
    directory: str | None = None,
    env: dict[str, Any] | None = None,
    expand_env_vars: bool = False,
    stream_output: bool = True,
) -> dict[str, str]:
    """Run ``script`` in one ``sh -e`` shell (so ``cd`` and variables carry across lines).

    ``env`` is merged over the current environment; ``expand_env_vars`` expands ``$VAR``
    in the script from that environment before the shell sees it; ``stream_output``
    echoes output (redacted) as it arrives. Returns ``{"stdout", "stderr"}``, redacted; a
    non-zero exit raises :class:`StepError` with the exit code and the tail of stderr.
    """
    if not isinstance(script, str) or not script.strip():
        raise StepError("run_shell_script: 'script' must be a non-empty string")
    merged = {**os.environ, **{str(k): str(v) for k, v in (env or {}).items()}}
    if expand_env_vars:
        script = _expand(script, merged)
    cwd = Path(directory).expanduser() if directory else None
    if cwd is not None and not cwd.is_dir():
        raise StepError(f"run_shell_script: directory '{directory}' does not exist")
    try:
        process = subprocess.Popen(
            ["/bin/sh", "-e", "-c", script], cwd=cwd, env=merged, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, errors="replace",
        )
    except OSError as exc:
        raise StepError(f"run_shell_script: could not start a shell: {exc}") from exc
    out: list[str] = []
    err: list[str] = []
    assert process.stdout is not None and process.stderr is not None
    threads = [
        threading.Thread(target=_pump, args=(process.stdout, out, sys.stdout if stream_output else None)),
        threading.Thread(target=_pump, args=(process.stderr, err, sys.stderr if stream_output else None)),
    ]
    for thread in threads:
        thread.start()
    code = process.wait()
    for thread in threads:
        thread.join()
    stdout, stderr = redact("".join(out)), redact("".join(err))
    if code != 0:
        tail = "\n".join(stderr.strip().splitlines()[-_TAIL_LINES:]) or "(no output on stderr)"
        raise StepError(f"run_shell_script: the script exited with code {code}: {tail}")
    return {"stdout": stdout.strip(), "stderr": stderr.strip()}


def _expand(text: str, env: dict[str, str]) -> str:
    """Expand ``$NAME`` and ``${NAME}`` from ``env``; unknown names are left as written."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return env.get(name, match.group(0))

    return _ENV_REF.sub(value, text)
