"""``stowflow init``: write ``stowflow.yaml`` and ``.stowflowignore`` from a recipe."""

from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path

import typer

from stowflow.cli.output import console
from stowflow.deployments.scaffold import (
    default_ignore_text,
    find_entrypoint,
    git_origin,
    strip_userinfo,
)
from stowflow.errors import ConfigError, DeploymentError

#: Recipes named after something other than their URL scheme.
_RECIPE_HINT_KEYS = {"azure": "az", "gcs": "gs", "s3": "s3"}


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
    from stowflow.deployments import recipes as recipe_registry
    from stowflow.plugins import install_hints

    recipes = recipe_registry.recipes()
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
