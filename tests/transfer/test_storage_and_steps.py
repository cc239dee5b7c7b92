"""RemoteStorage, LocalStorage, the core steps and the transfer hooks, through the plugins."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from stowflow.blocks import Secret
from stowflow.errors import ConfigError, UnsupportedURLError
from stowflow.plugins import get_plugin_manager
from stowflow.storage.local import LocalStorage
from stowflow.storage.remote import RemoteStorage
from stowflow.testing import assert_no_secret
from stowflow.testing.conformance import read_tree, write_tree
from stowflow.transfer import FsspecStore, open_store, split_url
from stowflow.transfer.scan import tree_digest


@pytest.fixture
def url() -> str:
    return f"memory://bucket-{uuid.uuid4().hex}/team/project"


def test_split_url() -> None:
    assert split_url("s3://bucket/a/b/") == ("s3://bucket", "a/b")
    assert split_url("gs://bucket") == ("gs://bucket", "")
    assert split_url("file:///srv/code") == ("file://", "srv/code")


def test_object_store_hook_falls_back_to_fsspec(url: str) -> None:
    store, prefix = open_store(url)
    assert isinstance(store, FsspecStore) and prefix == "team/project"
    assert store.name == f"memory://{url.split('/')[2]}"
    hook = get_plugin_manager().hook.stowflow_object_store_for_url
    for not_a_store in ("https://github.com/o/r.git", "git@github.com:o/r.git",
                        "ssh://git@host/r", "/local/path"):
        assert hook(url=not_a_store, options={}) is None


def test_unknown_scheme_names_what_to_install() -> None:
    with pytest.raises(UnsupportedURLError) as info:
        open_store("nosuchscheme://bucket/x")
    assert "nosuchscheme://bucket/x" in str(info.value)


def test_storage_hook_claims_object_store_urls_only(url: str, tmp_path: Path) -> None:
    from stowflow.transfer import _plugin

    assert isinstance(_plugin.stowflow_storage_for_url(url=url, options={}), RemoteStorage)
    for other in ("https://github.com/o/r.git", "git@github.com:o/r.git", str(tmp_path),
                  f"file://{tmp_path}", "ssh://git@h/r"):
        assert _plugin.stowflow_storage_for_url(url=other, options={}) is None


def test_remote_storage_push_pull_and_step(url: str, tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "src", {"flow.py": b"print('hi')\n"})
    storage = RemoteStorage(url)
    pushed = storage.push(tmp_path / "src")
    result = storage.pull(tmp_path / "dest")
    assert result.version == pushed.version and read_tree(result.directory) == tree
    assert storage.to_pull_step() == {
        "stowflow.deployments.steps.pull_from_remote_storage": {"url": url}}
    assert storage.describe() == url


def test_pull_step_keeps_credentials_as_block_placeholders(url: str) -> None:
    secret = Secret(value="s3cr3t-value-123")
    secret.save("store-key")
    step = RemoteStorage(url, credentials=secret, region="eu").to_pull_step()
    args = step["stowflow.deployments.steps.pull_from_remote_storage"]
    assert args["credentials"] == "{{ stowflow.blocks.secret.store-key }}"
    assert args["region"] == "eu"
    assert_no_secret("s3cr3t-value-123", repr(step))
    with pytest.raises(ConfigError, match="credential"):
        RemoteStorage(url, secret_access_key="AKIAPLAINVALUE").to_pull_step()
    with pytest.raises(ConfigError, match="unsaved"):
        RemoteStorage(url, credentials=Secret(value="another-secret")).to_pull_step()
    placeholder = "{{ stowflow.blocks.secret.store-key }}"
    assert RemoteStorage(url, token=placeholder).to_pull_step()[
        "stowflow.deployments.steps.pull_from_remote_storage"]["token"] == placeholder


def test_credentials_in_urls_never_reach_messages() -> None:
    with pytest.raises(UnsupportedURLError) as info:
        open_store("nosuchscheme://user:hunter2-password@host/x")
    assert_no_secret("hunter2-password", str(info.value))


def test_local_storage_is_used_in_place(tmp_path: Path) -> None:
    write_tree(tmp_path, {"flow.py": b"x", ".git/HEAD": b"ref"})
    storage = LocalStorage(tmp_path)
    first = storage.pull()
    assert first.directory == tmp_path and first.version == tree_digest(tmp_path)
    (tmp_path / ".git/HEAD").write_text("other")  # ignored: the version does not move
    assert storage.pull().version == first.version
    (tmp_path / "flow.py").write_text("y")
    assert storage.pull().version != first.version
    assert storage.to_pull_step() == {
        "stowflow.deployments.steps.set_working_directory": {"directory": str(tmp_path)}}


def test_core_steps_push_and_pull(url: str, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from stowflow.deployments.steps import pull_from_remote_storage, push_to_remote_storage

    tree = write_tree(tmp_path / "src", {"flow.py": b"x = 1\n", "notes.log": b"skip"})
    (tmp_path / "src/.stowflowignore").write_text("*.log\n")
    monkeypatch.chdir(tmp_path / "src")
    pushed = push_to_remote_storage(url)
    assert pushed["url"] == url and len(pushed["version"]) == 64
    monkeypatch.chdir(tmp_path)
    pulled = pull_from_remote_storage(url)
    assert pulled == {"url": url, "directory": str(tmp_path / "project"),
                      "version": pushed["version"]}
    del tree["notes.log"]
    tree[".stowflowignore"] = (b"*.log\n", False)
    assert read_tree(tmp_path / "project") == tree
    plain = push_to_remote_storage(url + "-plain", layout="files")
    assert plain["version"]
