"""Interactive ``stowflow deploy`` without a ``stowflow.yaml``: ask, then write one.

:func:`interactive_setup` asks where the code lives (git, S3, GCS, Azure or local), which
credentials block to use, the entrypoint and the work pool, and writes ``stowflow.yaml``.
Questions go through an ``ask`` callable, so tests inject their answers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from stowflow.errors import DeploymentError
from stowflow.placeholders import placeholder_for

#: ask(question, choices or None, default or None) -> answer
Ask = Callable[[str, list[str] | None, str | None], str]

LOCATIONS = ["git", "s3", "gcs", "azure", "local"]

_STORES: dict[str, dict[str, str]] = {
    "s3": {"module": "stowflow_aws", "dist": "stowflow-aws", "push": "push_to_s3",
           "pull": "pull_from_s3", "bucket": "bucket", "slug": "aws-credentials"},
    "gcs": {"module": "stowflow_gcp", "dist": "stowflow-gcp", "push": "push_to_gcs",
            "pull": "pull_from_gcs", "bucket": "bucket", "slug": "gcp-credentials"},
    "azure": {"module": "stowflow_azure", "dist": "stowflow-azure",
              "push": "push_to_azure_blob_storage", "pull": "pull_from_azure_blob_storage",
              "bucket": "container", "slug": "azure-blob-credentials"},
}


def _block_placeholder(answer: str, default_slug: str) -> str | None:
    answer = answer.strip()
    if not answer:
        return None
    slug, _, name = answer.partition("/")
    if not name:
        slug, name = default_slug, answer
    return placeholder_for(slug, name)


def _store_sections(kind: str, ask: Ask, project: str) -> dict[str, Any]:
    store = _STORES[kind]
    key = store["bucket"]
    bucket = ask(f"{key.capitalize()} name", None, None).strip()
    if not bucket:
        raise DeploymentError(f"a {key} name is needed to store the code")
    folder = ask("Folder inside it", None, project).strip() or project
    creds = _block_placeholder(
        ask(f"Credentials block ({store['slug']}/NAME, or empty for ambient credentials)", None, ""),
        store["slug"],
    )
    requires = f"{store['dist']}>=0.1"
    push: dict[str, Any] = {"id": "push_code", "requires": requires, key: bucket, "folder": folder}
    pull: dict[str, Any] = {"id": "pull_code", "requires": requires,
                            key: f"{{{{ push_code.{key} }}}}", "folder": "{{ push_code.folder }}"}
    if creds:
        push["credentials"] = pull["credentials"] = creds
    steps = f"{store['module']}.deployments.steps"
    return {"push": [{f"{steps}.{store['push']}": push}],
            "pull": [{f"{steps}.{store['pull']}": pull}]}


def _git_sections(ask: Ask, root: Path) -> dict[str, Any]:
    from stowflow.deployments.scaffold import git_origin, strip_userinfo

    try:
        default_url, default_branch = git_origin(root)
    except Exception:
        default_url, default_branch = "", "main"
    url = strip_userinfo(ask("Repository URL", None, default_url or None).strip())
    if not url:
        raise DeploymentError("a repository URL is needed to clone the code")
    branch = ask("Branch", None, default_branch).strip() or default_branch
    creds = _block_placeholder(
        ask("Credentials block for a private repository (TYPE/NAME, e.g. github-credentials/gh; "
            "a bare NAME means a secret block; empty for a public repository)", None, ""),
        "secret",
    )
    clone: dict[str, Any] = {"id": "clone", "repository": url, "branch": branch}
    if creds:
        clone["credentials"] = creds
    return {"push": None, "pull": [{"stowflow.deployments.steps.git_clone": clone}]}


def interactive_setup(root: Path, ask: Ask) -> Path:
    """Ask how to deploy the project in ``root`` and write its ``stowflow.yaml``; return it."""
    from stowflow.deployments.scaffold import default_ignore_text, find_entrypoint

    root = root.resolve()
    target = root / "stowflow.yaml"
    if target.exists():
        raise DeploymentError(f"{target} already exists")
    kind = ask("Where does the code live?", LOCATIONS, "local").strip().lower()
    if kind not in LOCATIONS:
        raise DeploymentError(f"unknown code location {kind!r}", hint=f"choose one of {', '.join(LOCATIONS)}")
    project = root.name
    if kind in _STORES:
        sections = _store_sections(kind, ask, project)
    elif kind == "git":
        sections = _git_sections(ask, root)
    else:
        sections = {"push": None, "pull": [
            {"stowflow.deployments.steps.set_working_directory": {"directory": str(root)}}]}
    entrypoint = ask("Flow entrypoint (path/to/file.py:function)", None, find_entrypoint(root)).strip()
    name = ask("Deployment name", None, project).strip() or project
    pool = ask("Work pool", None, "default").strip() or "default"
    document = {
        "name": project,
        "build": None,
        **sections,
        "deployments": [{
            "name": name, "entrypoint": entrypoint, "parameters": {},
            "work_pool": {"name": pool, "work_queue_name": None, "job_variables": {}},
            "tags": [], "version": None, "description": None, "concurrency_limit": None,
            "enforce_parameter_schema": True, "schedules": [],
        }],
    }
    text = yaml.safe_dump(document, sort_keys=False)
    from stowflow.deployments.project import parse_project

    parse_project(text, str(target))
    target.write_text(text, encoding="utf-8")
    ignore = root / ".stowflowignore"
    if not ignore.exists():
        ignore.write_text(default_ignore_text(), encoding="utf-8")
    return target
