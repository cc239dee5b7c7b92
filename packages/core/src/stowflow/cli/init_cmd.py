"""``stowflow init``: write ``stowflow.yaml`` and ``.stowflowignore`` from a recipe."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import urllib.parse
from pathlib import Path

import typer

from stowflow.cli.output import console
from stowflow.errors import ConfigError, DeploymentError

#: Recipes named after something other than their URL scheme.
_RECIPE_HINT_KEYS = {"azure": "az", "gcs": "gs", "s3": "s3"}


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


def project_slug(folder: Path) -> str:
    """Return a deployment-friendly name for ``folder``: lowercase letters, digits, dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", folder.name.lower()).strip("-")
    return slug or "project"


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def render_recipe(name: str, fields: dict[str, str]) -> str:
    """Return recipe ``name`` filled with ``fields``; a missing recipe names its distribution."""
    from stowflow import registry
    from stowflow.plugins import install_hints

    recipes = registry.recipes()
    recipe = recipes.get(name)
    if recipe is None:
        dist = install_hints().get(name) or install_hints().get(_RECIPE_HINT_KEYS.get(name, ""))
        if dist and not _installed(dist):
            raise ConfigError(f"the '{name}' recipe comes with {dist}, which is not installed",
                              hint=f"pip install {dist}")
        if dist:
            raise ConfigError(f"{dist} is installed but registers no '{name}' recipe",
                              hint="'stowflow plugins' shows whether it loaded, and its error")
        raise ConfigError(f"unknown recipe '{name}'",
                          hint=f"recipes: {', '.join(sorted(recipes)) or '(none)'}")
    try:
        return recipe.render(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"recipe '{name}' is malformed: unknown field {exc}") from exc


def write_new(path: Path, text: str, *, force: bool) -> None:
    """Write ``text`` to ``path``; refuse to replace an existing file unless ``force``."""
    if path.exists() and not force:
        raise DeploymentError(f"{path.name} already exists in {path.parent}",
                              hint="pass --force to overwrite it")
    path.write_text(text, encoding="utf-8")


def init_project(
    root: Path, recipe: str, *, name: str | None = None, entrypoint: str | None = None,
    repository: str | None = None, branch: str | None = None, force: bool = False,
) -> list[Path]:
    """Write ``stowflow.yaml`` and ``.stowflowignore`` into ``root``; return the paths written."""
    root = root.resolve()
    project_file, ignore_file = root / "stowflow.yaml", root / ".stowflowignore"
    # ``directory`` is JSON-quoted: a valid YAML string whatever characters the path has.
    fields = {"project_name": name or project_slug(root),
              "entrypoint": entrypoint or find_entrypoint(root),
              "directory": json.dumps(str(root)), "repository": "", "branch": branch or "main"}
    if recipe == "git":
        if repository is None:
            repository, found_branch = git_origin(root)
            fields["branch"] = branch or found_branch
        fields["repository"] = strip_userinfo(repository)
    text = render_recipe(recipe, fields)
    from stowflow.deployments.project import parse_project

    parse_project(text, f"recipe '{recipe}'")  # a broken recipe fails here, not at deploy
    try:
        write_new(project_file, text, force=force)
        written = [project_file]
        if not ignore_file.exists() or force:
            ignore_file.write_text(default_ignore_text(), encoding="utf-8")
            written.append(ignore_file)
    except OSError as exc:
        raise ConfigError(f"cannot write the project files in {root}: {exc.strerror or exc}",
                          hint="run 'stowflow init' in a folder you can write to") from exc
    return written


def init_cmd(
    recipe: str = typer.Option("local", "--recipe", "-r", help="local, git, s3, gcs or azure."),
    name: str | None = typer.Option(None, "--name", help="Project and deployment name (default: folder name)."),
    entrypoint: str | None = typer.Option(None, "--entrypoint", help="path/to/file.py:flow_function."),
    repository: str | None = typer.Option(None, "--repository", help="git URL (default: origin)."),
    branch: str | None = typer.Option(None, "--branch", help="git branch (default: the current one)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
) -> None:
    """Write stowflow.yaml and a default .stowflowignore in the current folder."""
    for path in init_project(Path.cwd(), recipe, name=name, entrypoint=entrypoint,
                             repository=repository, branch=branch, force=force):
        console.print(f"Wrote {path}")


def register(app: typer.Typer) -> None:
    """Add ``stowflow init``."""
    app.command("init")(init_cmd)
