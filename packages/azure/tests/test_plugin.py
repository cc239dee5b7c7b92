"""The stowflow-azure plugin: discovery, hooks, block registration through the CLI, URL schemes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr
from stowflow.cli.app import main
from stowflow.deployments.recipes import recipes
from stowflow.errors import BlockError, ConfigError
from stowflow.plugins import get_plugin_manager
from stowflow.testing.plugins import ProviderPluginSuite
from stowflow.testing.servers.azurite import AzuriteServer
from stowflow_azure import AzureBlobCredentials, AzureBlobObjectStore, AzureBlobStorage
from stowflow_azure.deployments import steps as provider_steps


class TestAzurePlugin(ProviderPluginSuite):
    plugin_name = "azure"
    distribution = "stowflow-azure"
    hooks = ["stowflow_object_store_for_url", "stowflow_register_block_types",
             "stowflow_register_recipes", "stowflow_register_steps"]
    sdk_modules = ("azure",)
    block_classes = {"azure-blob-credentials": AzureBlobCredentials,
                     "azure-blob-storage": AzureBlobStorage}
    steps = {"stowflow_azure.deployments.steps.push_to_azure_blob_storage":
             provider_steps.push_to_azure_blob_storage,
             "stowflow_azure.deployments.steps.pull_from_azure_blob_storage":
             provider_steps.pull_from_azure_blob_storage}
    recipe_names = ("azure",)
    hint_keys = ("az", "abfs")


def test_recipe_renders_to_the_documented_shape() -> None:
    recipe = recipes()["azure"]
    text = recipe.render(project_name="shop", entrypoint="flows/etl.py:etl")
    data = yaml.safe_load(text)
    (push,) = data["push"]
    (pull,) = data["pull"]
    push_args = push["stowflow_azure.deployments.steps.push_to_azure_blob_storage"]
    pull_args = pull["stowflow_azure.deployments.steps.pull_from_azure_blob_storage"]
    placeholder = "{{ stowflow.blocks.azure-blob-credentials.my-creds }}"
    assert push_args == {"id": "push_code", "requires": "stowflow-azure>=0.1",
                         "container": "my-container", "folder": "shop",
                         "credentials": placeholder}
    assert pull_args == {"id": "pull_code", "requires": "stowflow-azure>=0.1",
                         "container": "{{ push_code.container }}",
                         "folder": "{{ push_code.folder }}", "credentials": placeholder}
    (deployment,) = data["deployments"]
    assert deployment["name"] == "shop"
    assert deployment["entrypoint"] == "flows/etl.py:etl"
    assert deployment["work_pool"] == {"name": "my-pool", "work_queue_name": None,
                                       "job_variables": {}}
    assert data["build"] is None


def _resolve(url: str, options: dict[str, object]) -> AzureBlobObjectStore | None:
    return get_plugin_manager().hook.stowflow_object_store_for_url(url=url, options=options)  # type: ignore[no-any-return]


def test_schemes_resolve_to_the_azure_store(azurite_server: AzuriteServer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    container = azurite_server.create_container()
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_URL", raising=False)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_server.connection_string)
    for url in (f"az://{container}/folder", f"abfs://{container}/folder",
                f"ABFSS://{container}@devstoreaccount1.dfs.core.windows.net/folder"):
        store = _resolve(url, {})
        assert isinstance(store, AzureBlobObjectStore)
        with store:
            assert store.container == container
            store.put("folder/x.txt", url.encode())
            assert store.get_bytes("folder/x.txt") == url.encode()


def test_options_carry_credentials_and_client_settings(azurite_server: AzuriteServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    container = azurite_server.create_container()
    block = AzureBlobCredentials(connection_string=SecretStr(azurite_server.connection_string))
    for options in ({"credentials": block}, {"credentials": block.revealed_data()},
                    {"connection_string": azurite_server.connection_string}):
        store = _resolve(f"az://{container}", {**options, "max_concurrency": 3})
        assert isinstance(store, AzureBlobObjectStore)
        with store:
            assert store.max_concurrency == 3
            assert list(store.list("")) == []


def test_abfs_account_in_the_url_is_used_without_other_credentials(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_URL", raising=False)
    store = _resolve("abfss://code@myacct.dfs.core.windows.net/etl", {})
    assert isinstance(store, AzureBlobObjectStore)
    with store:
        assert (store.account, store.container) == ("myacct", "code")


def test_other_schemes_and_bad_options(monkeypatch: pytest.MonkeyPatch) -> None:
    from stowflow_azure.plugin import stowflow_object_store_for_url

    assert stowflow_object_store_for_url("s3://bucket/x", {}) is None
    assert stowflow_object_store_for_url("gs://bucket/x", {}) is None
    with pytest.raises(ConfigError, match="unknown option"):
        stowflow_object_store_for_url("az://c/x", {"anon": True})
    with pytest.raises(ConfigError, match="names no container"):
        stowflow_object_store_for_url("az:///x", {})
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_URL", raising=False)
    with pytest.raises(ConfigError, match="no Azure credentials"):
        stowflow_object_store_for_url("az://c/x", {})
    with pytest.raises(BlockError, match="not both"):
        stowflow_object_store_for_url(
            "az://c/x", {"credentials": {"connection_string": "a=b", "account_url": "https://a"}})


def test_init_writes_the_azure_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "etl.py").write_text(
        "from stowflow import flow\n\n@flow\ndef etl():\n    pass\n")
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--recipe", "azure", "--name", "shop",
                 "--entrypoint", "flows/etl.py:etl"]) == 0, capsys.readouterr().err
    data = yaml.safe_load((tmp_path / "stowflow.yaml").read_text())
    step = data["push"][0]["stowflow_azure.deployments.steps.push_to_azure_blob_storage"]
    assert step["folder"] == "shop"
    assert step["credentials"] == "{{ stowflow.blocks.azure-blob-credentials.my-creds }}"
    assert data["deployments"][0]["entrypoint"] == "flows/etl.py:etl"
    assert (tmp_path / ".stowflowignore").exists()
