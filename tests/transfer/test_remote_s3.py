"""Core's remote-storage steps and RemoteStorage against moto S3, through the plugins' hook.

Core never imports the AWS plugin: ``s3://`` reaches stowflow-aws's ObjectStore through
``stowflow_object_store_for_url`` (core's fsspec fallback would use s3fs otherwise).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from stowflow.errors import ConfigError
from stowflow.plugins import get_plugin_manager
from stowflow.storage.remote import RemoteStorage
from stowflow.testing.conformance import read_tree, write_tree
from stowflow.transfer import FsspecStore, open_store


def _options(server: Any) -> dict[str, Any]:
    return {"endpoint_url": server.endpoint_url, "key": server.access_key_id,
            "secret": server.secret_access_key,
            "client_kwargs": {"region_name": server.region}}


def test_steps_round_trip_on_s3(s3_server: Any, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from stowflow.deployments.steps import pull_from_remote_storage, push_to_remote_storage

    bucket = s3_server.create_bucket()
    url = f"s3://{bucket}/flows/etl"
    tree = write_tree(tmp_path / "src", {"etl.py": b"print('etl')\n", "lib/x.py": b"x = 1\n"})
    store, prefix = open_store(url, _options(s3_server))
    with store:
        assert not isinstance(store, FsspecStore), "the AWS plugin should claim s3://"
        assert prefix == "flows/etl"
    monkeypatch.chdir(tmp_path / "src")
    pushed = push_to_remote_storage(url, **_options(s3_server))
    monkeypatch.chdir(tmp_path)
    pulled = pull_from_remote_storage(url, **_options(s3_server))
    assert pulled["version"] == pushed["version"]
    assert read_tree(Path(pulled["directory"])) == tree
    assert Path(pulled["directory"]) == tmp_path / "etl"


def test_remote_storage_on_s3_is_claimed_and_keeps_secrets_out_of_steps(
        s3_server: Any, tmp_path: Path) -> None:
    bucket = s3_server.create_bucket()
    url = f"s3://{bucket}/code-{uuid.uuid4().hex[:6]}"
    storage = get_plugin_manager().hook.stowflow_storage_for_url(url=url,
                                                                 options=_options(s3_server))
    assert storage is not None and storage.describe() == url
    write_tree(tmp_path / "src", {"a.py": b"a"})
    remote = RemoteStorage(url, **_options(s3_server))
    remote.push(tmp_path / "src")
    assert read_tree(remote.pull(tmp_path / "d").directory) == {"a.py": (b"a", False)}
    with pytest.raises(ConfigError, match="credential"):
        remote.to_pull_step()  # "key"/"secret" would be stored in the clear
