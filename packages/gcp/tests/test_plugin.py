"""The stowflow-gcp plugin: discovery, hooks, block registration through the CLI, URL schemes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from stowflow.cli.app import main
from stowflow.deployments.recipes import recipes
from stowflow.errors import BlockError, ConfigError
from stowflow.plugins import get_plugin_manager
from stowflow.testing.plugins import ProviderPluginSuite
from stowflow.testing.servers.gcs import GcsServer
from stowflow_gcp import GcpCredentials, GcsBucket, GcsObjectStore, plugin
from stowflow_gcp.deployments import steps as provider_steps


class TestGcpPlugin(ProviderPluginSuite):
    plugin_name = "gcp"
    distribution = "stowflow-gcp"
    hooks = ["stowflow_object_store_for_url", "stowflow_register_block_types",
             "stowflow_register_recipes", "stowflow_register_steps"]
    sdk_modules = ("google",)
    block_classes = {"gcp-credentials": GcpCredentials, "gcs-bucket": GcsBucket}
    steps = {"stowflow_gcp.deployments.steps.push_to_gcs": provider_steps.push_to_gcs,
             "stowflow_gcp.deployments.steps.pull_from_gcs": provider_steps.pull_from_gcs}
    recipe_names = ("gcs",)
    hint_keys = ("gs", "gcs")


def test_recipe_renders_to_the_documented_shape() -> None:
    recipe = recipes()["gcs"]
    text = recipe.render(project_name="shop", entrypoint="flows/etl.py:etl")
    data = yaml.safe_load(text)
    (push,) = data["push"]
    (pull,) = data["pull"]
    placeholder = "{{ stowflow.blocks.gcp-credentials.my-creds }}"
    assert push["stowflow_gcp.deployments.steps.push_to_gcs"] == {
        "id": "push_code", "requires": "stowflow-gcp>=0.1", "bucket": "my-bucket",
        "folder": "shop", "credentials": placeholder}
    assert pull["stowflow_gcp.deployments.steps.pull_from_gcs"] == {
        "id": "pull_code", "requires": "stowflow-gcp>=0.1", "bucket": "{{ push_code.bucket }}",
        "folder": "{{ push_code.folder }}", "credentials": placeholder}
    (deployment,) = data["deployments"]
    assert deployment["name"] == "shop"
    assert deployment["entrypoint"] == "flows/etl.py:etl"
    assert deployment["work_pool"] == {"name": "my-pool", "work_queue_name": None,
                                       "job_variables": {}}
    assert deployment["parameters"] == {} and data["build"] is None


def _resolve(url: str, options: dict[str, object]) -> GcsObjectStore | None:
    return get_plugin_manager().hook.stowflow_object_store_for_url(url=url, options=options)  # type: ignore[no-any-return]


def test_both_schemes_resolve_to_the_gcs_store(gcs_server: GcsServer, gcs_bucket: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint)
    for url in (f"gs://{gcs_bucket}/folder", f"gcs://{gcs_bucket}", f"GS://{gcs_bucket}/a/b"):
        store = _resolve(url, {})
        assert isinstance(store, GcsObjectStore)
        with store:
            assert store.bucket_name == gcs_bucket and store.name == f"gs://{gcs_bucket}"
            store.put("folder/x.txt", url.encode())
            assert store.get_bytes("folder/x.txt") == url.encode()


def test_options_carry_credentials_and_client_settings(gcs_server: GcsServer,
                                                       gcs_bucket: str) -> None:
    block = GcpCredentials(api_endpoint=gcs_server.endpoint, project="block-project")
    for credentials in (block, block.revealed_data()):
        store = _resolve(f"gs://{gcs_bucket}", {"credentials": credentials, "max_concurrency": 3,
                                                "page_size": 7, "project": "url-project"})
        assert isinstance(store, GcsObjectStore)
        with store:
            assert (store.max_concurrency, store.page_size) == (3, 7)
            assert store.project == "url-project"
            assert list(store.list("")) == []
    with pytest.raises(ConfigError, match=r"unknown option.*anon"):
        _resolve(f"gs://{gcs_bucket}", {"anon": True})
    with pytest.raises(BlockError, match="invalid GCP Credentials"):
        _resolve(f"gs://{gcs_bucket}", {"credentials": {"token": "x"}})


def test_other_schemes_are_left_to_other_plugins() -> None:
    for url in ("s3://bucket/x", "az://c/x", "memory://x", "/local/path"):
        assert plugin.stowflow_object_store_for_url(url=url, options={}) is None


def test_init_writes_the_gcs_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "etl.py").write_text(
        "from stowflow import flow\n\n@flow\ndef etl():\n    pass\n")
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--recipe", "gcs", "--name", "shop",
                 "--entrypoint", "flows/etl.py:etl"]) == 0, capsys.readouterr().err
    data = yaml.safe_load((tmp_path / "stowflow.yaml").read_text())
    step = data["push"][0]["stowflow_gcp.deployments.steps.push_to_gcs"]
    assert step["folder"] == "shop" and step["requires"] == "stowflow-gcp>=0.1"
    assert step["credentials"] == "{{ stowflow.blocks.gcp-credentials.my-creds }}"
    pull = data["pull"][0]["stowflow_gcp.deployments.steps.pull_from_gcs"]
    assert pull["bucket"] == "{{ push_code.bucket }}"
    assert data["deployments"][0]["entrypoint"] == "flows/etl.py:etl"
    assert (tmp_path / ".stowflowignore").exists()


def test_gs_urls_are_code_sources_on_the_native_store(
        gcs_server: GcsServer, gcs_bucket: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from stowflow.steps import run_steps
    from stowflow.storage.remote import RemoteStorage
    from stowflow.storage.resolve import resolve

    GcpCredentials(api_endpoint=gcs_server.endpoint).save("emu")
    src = tmp_path / "src"
    (src / "flows").mkdir(parents=True)
    (src / "flows" / "etl.py").write_text("def etl():\n    return 1\n")

    storage = resolve(f"gs://{gcs_bucket}/team/shop", credentials=GcpCredentials.load("emu"))
    assert isinstance(storage, RemoteStorage)
    assert storage.push(src).version
    assert storage.pull(tmp_path / "deploy-time").directory == tmp_path / "deploy-time"
    assert (tmp_path / "deploy-time" / "flows" / "etl.py").is_file()

    step = storage.to_pull_step()
    assert step == {"stowflow.deployments.steps.pull_from_remote_storage": {
        "url": f"gs://{gcs_bucket}/team/shop",
        "credentials": "{{ stowflow.blocks.gcp-credentials.emu }}"}}
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    monkeypatch.chdir(workspace)
    outputs = run_steps([step])  # the placeholder resolves to the block's data at run time
    assert Path(outputs["directory"], "flows", "etl.py").is_file()
    assert outputs["directory"] == str(workspace / "shop")
