"""The stowflow-aws plugin: discovery, hooks, block registration through the CLI, URL schemes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from stowflow import transfer
from stowflow.cli.app import main
from stowflow.deployments.recipes import recipes
from stowflow.errors import ConfigError
from stowflow.plugins import get_plugin_manager
from stowflow.testing.plugins import ProviderPluginSuite
from stowflow.testing.servers.s3 import S3Server
from stowflow_aws import AwsCredentials, S3Bucket, S3ObjectStore
from stowflow_aws.deployments import steps as provider_steps


class TestAwsPlugin(ProviderPluginSuite):
    plugin_name = "aws"
    distribution = "stowflow-aws"
    hooks = ["stowflow_object_store_for_url", "stowflow_register_block_types",
             "stowflow_register_recipes", "stowflow_register_steps"]
    sdk_modules = ("boto3", "botocore")
    block_classes = {"aws-credentials": AwsCredentials, "s3-bucket": S3Bucket}
    steps = {"stowflow_aws.deployments.steps.push_to_s3": provider_steps.push_to_s3,
             "stowflow_aws.deployments.steps.pull_from_s3": provider_steps.pull_from_s3}
    recipe_names = ("s3",)
    hint_keys = ("s3", "s3a")


def test_recipe_renders_to_the_documented_shape() -> None:
    recipe = recipes()["s3"]
    data = yaml.safe_load(recipe.render(project_name="shop",
                                                  entrypoint="flows/etl.py:etl"))
    (push,) = data["push"]
    (pull,) = data["pull"]
    placeholder = "{{ stowflow.blocks.aws-credentials.my-creds }}"
    assert push["stowflow_aws.deployments.steps.push_to_s3"] == {
        "id": "push_code", "requires": "stowflow-aws>=0.1", "bucket": "my-bucket",
        "folder": "shop", "credentials": placeholder}
    assert pull["stowflow_aws.deployments.steps.pull_from_s3"] == {
        "id": "pull_code", "requires": "stowflow-aws>=0.1", "bucket": "{{ push_code.bucket }}",
        "folder": "{{ push_code.folder }}", "credentials": placeholder}
    (deployment,) = data["deployments"]
    assert (deployment["name"], deployment["entrypoint"]) == ("shop", "flows/etl.py:etl")
    assert deployment["work_pool"] == {"name": "my-pool", "work_queue_name": None,
                                       "job_variables": {}}
    assert data["build"] is None


def test_init_writes_the_s3_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "etl.py").write_text("from stowflow import flow\n\n@flow\n"
                                               "def etl():\n    pass\n")
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--recipe", "s3", "--name", "shop",
                 "--entrypoint", "flows/etl.py:etl"]) == 0
    data = yaml.safe_load((tmp_path / "stowflow.yaml").read_text())
    assert "stowflow_aws.deployments.steps.push_to_s3" in data["push"][0]
    assert data["pull"][0]["stowflow_aws.deployments.steps.pull_from_s3"]["credentials"] == \
        "{{ stowflow.blocks.aws-credentials.my-creds }}"
    assert (tmp_path / ".stowflowignore").is_file()


def _resolve(url: str, options: dict[str, object]) -> S3ObjectStore | None:
    return get_plugin_manager().hook.stowflow_object_store_for_url(url=url, options=options)  # type: ignore[no-any-return]


def test_schemes_resolve_to_the_s3_store(s3_server: S3Server, credentials: AwsCredentials,
                                         s3_bucket: str) -> None:
    for url in (f"s3://{s3_bucket}/folder", f"S3A://{s3_bucket}/folder"):
        store, prefix = transfer.open_store(url, {"credentials": credentials})
        assert isinstance(store, S3ObjectStore) and prefix == "folder"
        with store:
            assert store.bucket == s3_bucket
            store.put("folder/x.txt", url.encode())
            assert store.get_bytes("folder/x.txt") == url.encode()


def test_options_carry_credentials_and_client_settings(s3_server: S3Server,
                                                       credentials: AwsCredentials,
                                                       s3_bucket: str) -> None:
    s3fs_style = {"key": "testing", "secret": "testing",
                  "client_kwargs": {"endpoint_url": s3_server.endpoint_url,
                                    "region_name": "us-east-1"}}
    bare = AwsCredentials(aws_access_key_id="testing", aws_secret_access_key="testing",
                          region_name="us-east-1")
    for options in ({"credentials": credentials}, {"credentials": credentials.revealed_data()},
                    s3fs_style,
                    {"credentials": bare, "endpoint_url": s3_server.endpoint_url},
                    {"credentials": bare,
                     "client_parameters": {"endpoint_url": s3_server.endpoint_url}}):
        store = _resolve(f"s3://{s3_bucket}", {**options, "max_concurrency": 3})
        assert isinstance(store, S3ObjectStore)
        with store:
            assert store.max_concurrency == 3
            assert list(store.list("nothing/")) == []


def test_s3_url_as_a_flow_source_uses_this_store(credentials: AwsCredentials, s3_bucket: str,
                                                 tmp_path: Path) -> None:
    from stowflow.storage.resolve import resolve

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "etl.py").write_text("X = 1\n")
    with S3ObjectStore(s3_bucket, credentials=credentials) as store:
        pushed = transfer.push(tmp_path / "src", store, "code")
    storage = resolve(f"s3://{s3_bucket}/code", credentials=credentials)
    pulled = storage.pull(tmp_path / "dest")
    assert (tmp_path / "dest" / "etl.py").read_text() == "X = 1\n"
    assert pulled.version == pushed.version


def test_other_schemes_and_bad_options() -> None:
    from stowflow_aws.plugin import stowflow_object_store_for_url

    assert stowflow_object_store_for_url("gs://bucket/x", {}) is None
    assert stowflow_object_store_for_url("az://container/x", {}) is None
    with pytest.raises(ConfigError, match="unknown S3 option"):
        stowflow_object_store_for_url("s3://b/x", {"connection_string": "a=b"})
    with pytest.raises(ConfigError, match="unknown client_kwargs"):
        stowflow_object_store_for_url("s3://b/x", {"client_kwargs": {"proxies": {}}})
    with pytest.raises(ConfigError, match="no bucket"):
        stowflow_object_store_for_url("s3:///x", {})
