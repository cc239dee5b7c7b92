"""What ``stowflow init`` and the interactive deploy read from a project folder.

The default ``.stowflowignore``, the git ``origin`` and branch (without user info), and a
guessed flow entrypoint. Library code (``deployments.interactive``) and the CLI
(``cli/init_cmd.py``) both use these; neither copies them.
"""

from __future__ import annotations

import subprocess
import urllib.parse
from pathlib import Path

from stowflow.errors import ConfigError


def default_ignore_text() -> str:
    """Return the default ``.stowflowignore``: the sync engine's built-in rules."""
    from stowflow.transfer.ignore import DEFAULT_STOWFLOWIGNORE

    return DEFAULT_STOWFLOWIGNORE


def strip_userinfo(url: str) -> str:
    """Return ``url`` without any ``user:password@`` part (so no token is written to disk)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urllib.parse.urlunsplit(parts._replace(netloc=host))
    return url


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                                timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None


def git_origin(cwd: Path) -> tuple[str, str]:
    """Return ``(origin URL without user info, current branch)`` of the repo at ``cwd``."""
    url = _git(["remote", "get-url", "origin"], cwd)
    if url is None:
        raise ConfigError(
            f"the git recipe needs a repository with an 'origin' remote, and {cwd} has none",
            hint="run 'git remote add origin URL' first, or pass --repository URL",
        )
    branch = _git(["symbolic-ref", "--short", "HEAD"], cwd)  # works before the first commit too
    return strip_userinfo(url), branch if branch and branch != "HEAD" else "main"


_SKIPPED_FOLDERS = {"venv", "env", "__pycache__", "node_modules", "site-packages"}
_MAX_FILES_SCANNED = 500


def find_entrypoint(root: Path) -> str:
    """Guess an entrypoint: the first ``@flow`` function in a ``*.py`` file under ``root``.

    Files are parsed with ``ast`` (never imported); hidden folders and virtualenvs are
    skipped. Returns a placeholder entrypoint when there is no flow.
    """
    from stowflow.flows.metadata import find_flows

    scanned = 0
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") or p in _SKIPPED_FOLDERS for p in parts[:-1]):
            continue
        scanned += 1
        if scanned > _MAX_FILES_SCANNED:
            break
        try:
            flows = find_flows(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        if flows:
            return f"{path.relative_to(root).as_posix()}:{flows[0]}"
    return "flows/my_flow.py:my_flow"
