"""Interactive setup: the answers become a valid stowflow.yaml for each code location."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from stowflow.deployments.interactive import interactive_setup
from stowflow.deployments.project import load_project
from stowflow.errors import DeploymentError
from stowflow.testing import assert_no_secret


def answers(*values: str):
    """Return an ``ask`` that gives ``values`` in order and records the questions."""
    queue = list(values)
    asked: list[tuple[str, list[str] | None, str | None]] = []

    def ask(question, choices, default):
        asked.append((question, choices, default))
        value = queue.pop(0)
        return default or "" if value == "<default>" else value

    ask.asked = asked  # type: ignore[attr-defined]
    return ask


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    (folder / "flows").mkdir(parents=True)
    (folder / "flows" / "orders.py").write_text(
        "from stowflow import flow\n\n\n@flow(retries=1)\ndef orders():\n    pass\n")
    return folder


def test_local(root: Path) -> None:
    ask = answers("local", "<default>", "<default>", "<default>")
    path = interactive_setup(root, ask)
    config = load_project(path)
    assert config.pull == [{"stowflow.deployments.steps.set_working_directory": {"directory": str(root)}}]
    spec = config.deployments[0]
    assert (spec.name, spec.entrypoint, spec.work_pool.name) == ("shop", "flows/orders.py:orders", "default")
    assert ask.asked[0] == ("Where does the code live?", ["git", "s3", "gcs", "azure", "local"], "local")
    assert (root / ".stowflowignore").exists()


@pytest.mark.parametrize(("kind", "module", "push", "key", "slug"), [
    ("s3", "stowflow_aws", "push_to_s3", "bucket", "aws-credentials"),
    ("gcs", "stowflow_gcp", "push_to_gcs", "bucket", "gcp-credentials"),
    ("azure", "stowflow_azure", "push_to_azure_blob_storage", "container", "azure-blob-credentials"),
])
def test_object_stores(root: Path, kind, module, push, key, slug) -> None:
    path = interactive_setup(root, answers(kind, "code-bkt", "shop-code", "prod", "<default>", "etl", "pool"))
    config = load_project(path)
    (push_name, push_args), = config.push[0].items()
    (pull_name, pull_args), = config.pull[0].items()
    assert push_name == f"{module}.deployments.steps.{push}"
    assert pull_name == f"{module}.deployments.steps.{push.replace('push_to', 'pull_from')}"
    assert push_args[key] == "code-bkt" and push_args["folder"] == "shop-code"
    assert push_args["credentials"] == f"{{{{ stowflow.blocks.{slug}.prod }}}}"
    assert push_args["requires"].startswith(module.replace("_", "-"))
    assert pull_args[key] == f"{{{{ push_code.{key} }}}}"
    assert pull_args["folder"] == "{{ push_code.folder }}"
    assert config.deployments[0].name == "etl" and config.deployments[0].work_pool.name == "pool"


def test_object_store_with_ambient_credentials(root: Path) -> None:
    path = interactive_setup(root, answers("s3", "b", "<default>", "", "<default>", "<default>", "<default>"))
    push_args = next(iter(load_project(path).push[0].values()))
    assert "credentials" not in push_args and push_args["folder"] == "shop"


def test_git_defaults_to_origin_without_user_info(root: Path) -> None:
    token = "ghp_InteractiveSecret99"
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run(["git", "remote", "add", "origin", f"https://me:{token}@github.com/o/shop.git"],
                   cwd=root, check=True)
    ask = answers("git", "<default>", "<default>", "github-credentials/gh", "<default>", "<default>",
                  "<default>")
    path = interactive_setup(root, ask)
    step = load_project(path).pull[0]["stowflow.deployments.steps.git_clone"]
    assert step == {"id": "clone", "repository": "https://github.com/o/shop.git", "branch": "main",
                    "credentials": "{{ stowflow.blocks.github-credentials.gh }}"}
    assert_no_secret(token, path, repr(ask.asked))


def test_git_bare_block_name_means_a_secret_block(root: Path) -> None:
    path = interactive_setup(root, answers("git", "https://h.test/r.git", "dev", "tok", "<default>",
                                           "<default>", "<default>"))
    step = load_project(path).pull[0]["stowflow.deployments.steps.git_clone"]
    assert step["credentials"] == "{{ stowflow.blocks.secret.tok }}" and step["branch"] == "dev"


@pytest.mark.parametrize(("given", "message"), [
    (("ftp",), "unknown code location 'ftp'"),
    (("s3", ""), "a bucket name is needed"),
    (("azure", " "), "a container name is needed"),
    (("git", ""), "a repository URL is needed"),
])
def test_bad_answers(root: Path, given, message) -> None:
    with pytest.raises(DeploymentError, match=message):
        interactive_setup(root, answers(*given))
    assert not (root / "stowflow.yaml").exists()


def test_existing_file_is_never_replaced(root: Path) -> None:
    (root / "stowflow.yaml").write_text("x: 1\n")
    with pytest.raises(DeploymentError, match="already exists"):
        interactive_setup(root, answers("local"))
    assert (root / "stowflow.yaml").read_text() == "x: 1\n"
