"""Pushes and pulls through a faulty network either succeed whole or fail with one clear
error, and leave no partial state — on every provider.

Real servers (moto S3, Azurite, fake-gcs-server) behind
:class:`stowflow.testing.faults.FaultProxy` (resets, stalls, truncated responses,
latency; seeded per connection). Each round starts from a store and a destination at
version 1, pushes version 2 through the proxy, checks the store directly (``HEAD`` names a
whole version: 1, or 2 when the push said it succeeded), then pulls through the proxy into
the destination (version 2 byte for byte, or — on a clean error — still version 1 with
nothing left beside it).

fake-gcs-server hands out resumable-upload sessions at its own address, so a resumable
upload would bypass the proxy; the trees here stay below the 8 MiB at which GcsObjectStore
switches to them (every request goes through the proxy).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from stowflow import transfer
from stowflow.cli.app import main
from stowflow.errors import StorageError
from stowflow.testing.conformance import leftovers, read_tree, write_tree
from stowflow.testing.faults import FaultProxy
from stowflow.transfer import ObjectStore

SEEDS = range(6)


def tree(version: int) -> dict[str, bytes]:
    files = {f"pkg/mod{i}.py": f"VERSION = {version}  # {i}\n".encode() * (i + 1)
             for i in range(12)}
    files["data/blob.bin"] = os.urandom(300_000) if version == 2 else b"v1" * 1000
    return files


@dataclass
class Provider:
    """One provider's real server: its address, and stores on a fresh bucket through any
    endpoint (the server's own or a proxy's), optionally with the SDK's retries off."""

    endpoint: str
    open: Callable[[str, bool], ObjectStore]
    #: Sets the CLI's environment for a store at an endpoint; returns the bucket's URL and
    #: the CLI options that go with it.
    cli: Callable[[str, pytest.MonkeyPatch], tuple[str, list[str]]]


def _s3(request: pytest.FixtureRequest) -> Provider:
    from stowflow_aws import AwsCredentials, S3ObjectStore

    server = request.getfixturevalue("s3_server")
    bucket = server.create_bucket()

    def open_(endpoint: str, no_sdk_retries: bool) -> ObjectStore:
        parameters: dict[str, Any] = {"endpoint_url": endpoint}
        if no_sdk_retries:  # botocore's own retries, under the engine's five
            parameters["retries"] = {"max_attempts": 1}
        credentials = AwsCredentials(
            aws_access_key_id=server.access_key_id,
            aws_secret_access_key=server.secret_access_key, region_name=server.region,
            aws_client_parameters=parameters)
        return S3ObjectStore(bucket, credentials=credentials, max_concurrency=4)

    def cli(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str]]:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_access_key)
        monkeypatch.setenv("AWS_DEFAULT_REGION", server.region)
        return f"s3://{bucket}", ["-o", f"endpoint_url={endpoint}"]

    return Provider(server.endpoint_url, open_, cli)


def _az(request: pytest.FixtureRequest) -> Provider:
    import urllib.parse

    from azure.storage.blob import ExponentialRetry
    from stowflow_azure import AzureBlobCredentials, AzureBlobObjectStore

    server = request.getfixturevalue("azurite_server")
    container = server.create_container()

    def at(endpoint: str) -> str:
        port = urllib.parse.urlsplit(endpoint).port
        return dataclasses.replace(server, port=port).connection_string

    def open_(endpoint: str, no_sdk_retries: bool) -> ObjectStore:
        credentials = AzureBlobCredentials(connection_string=SecretStr(at(endpoint)))
        options: dict[str, Any] = {}
        if no_sdk_retries:
            options["retry_policy"] = ExponentialRetry(retry_total=0)
        return AzureBlobObjectStore(container, credentials, max_concurrency=4, **options)

    def cli(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str]]:
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", at(endpoint))
        return f"az://{container}", []

    return Provider(f"http://{server.host}:{server.port}", open_, cli)


def _gs(request: pytest.FixtureRequest) -> Provider:
    from stowflow_gcp import GcpCredentials, GcsObjectStore

    server = request.getfixturevalue("gcs_server")
    bucket = server.create_bucket()

    def open_(endpoint: str, no_sdk_retries: bool) -> ObjectStore:
        # The SDK's own retries are always off here (retry=None on every call).
        credentials = GcpCredentials(api_endpoint=endpoint, project=server.project)
        return GcsObjectStore(bucket, credentials, max_concurrency=4)

    def cli(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str]]:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
        return f"gs://{bucket}", []

    return Provider(server.endpoint, open_, cli)


@pytest.fixture(params=["s3", "az", "gs"])
def provider(request: pytest.FixtureRequest) -> Provider:
    """Each provider's real server with a fresh bucket/container."""
    return {"s3": _s3, "az": _az, "gs": _gs}[request.param](request)


@pytest.fixture
def stores(provider: Provider, fault_proxy: Callable[..., FaultProxy],
           ) -> Iterator[Callable[..., tuple[ObjectStore, ObjectStore, FaultProxy]]]:
    """A factory ``stores(**proxy options)`` of (direct store, store through a new fault
    proxy, the proxy) on the provider's bucket; the stores are closed at the end."""
    opened: list[ObjectStore] = []

    def make(no_sdk_retries: bool = False, **options: Any,
             ) -> tuple[ObjectStore, ObjectStore, FaultProxy]:
        proxy = fault_proxy(provider.endpoint, **options)
        pair = (provider.open(provider.endpoint, False),
                provider.open(proxy.url, no_sdk_retries))
        opened.extend(pair)
        return pair[0], pair[1], proxy

    try:
        yield make
    finally:
        for store in opened:
            store.close()


def as_read(files: dict[str, bytes]) -> dict[str, tuple[bytes, bool]]:
    return {path: (data, False) for path, data in files.items()}


def assert_clean_error(exc: StorageError, store: ObjectStore) -> None:
    text = str(exc)
    assert store.name in text and "\n" not in exc.message and "Traceback" not in text


@pytest.mark.parametrize("seed", SEEDS)
def test_push_and_pull_through_faults_are_whole_or_cleanly_refused(
    seed: int, stores: Callable[..., tuple[ObjectStore, ObjectStore, FaultProxy]],
    tmp_path: Path,
) -> None:
    direct, faulty, proxy = stores(seed=seed, rate=0.5, max_after=40_000)
    v1, v2 = tree(1), tree(2)
    write_tree(tmp_path / "v1", v1)
    write_tree(tmp_path / "v2", v2)
    dest = tmp_path / "work" / "dest"
    transfer.push(tmp_path / "v1", direct, "p")
    transfer.pull(direct, "p", dest)

    try:
        transfer.push(tmp_path / "v2", faulty, "p")
        pushed = True
    except StorageError as exc:
        assert_clean_error(exc, direct)
        pushed = False
    check = transfer.pull(direct, "p", tmp_path / "check")
    got = read_tree(check.directory)
    assert got == as_read(v2) if pushed else got in (as_read(v1), as_read(v2))
    current = got

    try:
        transfer.pull(faulty, "p", dest)
        assert read_tree(dest) == current
    except StorageError as exc:
        assert_clean_error(exc, direct)
        assert read_tree(dest) == as_read(v1)  # untouched
    assert leftovers(dest.parent) == []
    assert sum(proxy.struck.values()) > 0, (proxy.faults, proxy.struck)


def test_a_network_that_resets_everything_fails_cleanly_and_changes_nothing(
    stores: Callable[..., tuple[ObjectStore, ObjectStore, FaultProxy]], tmp_path: Path,
) -> None:
    direct, faulty, _ = stores(no_sdk_retries=True, seed=3, rate=1.0, max_after=1,
                               faults=("reset", "truncate"))
    write_tree(tmp_path / "v1", tree(1))
    write_tree(tmp_path / "v2", tree(2))
    dest = tmp_path / "work" / "dest"
    first = transfer.push(tmp_path / "v1", direct, "p").version
    transfer.pull(direct, "p", dest)
    with pytest.raises(StorageError) as pushing:
        transfer.push(tmp_path / "v2", faulty, "p")
    assert_clean_error(pushing.value, direct)
    assert [v.id for v in transfer.list_versions(direct, "p") if v.current] == [first]
    with pytest.raises(StorageError) as pulling:
        transfer.pull(faulty, "p", dest)
    assert_clean_error(pulling.value, direct)
    assert read_tree(dest) == as_read(tree(1))
    assert leftovers(dest.parent) == []


def test_the_cli_through_faults_prints_no_third_party_traceback(
    provider: Provider, fault_proxy: Callable[..., FaultProxy], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A cut-short response made urllib3 log a traceback on stderr during a push that then
    # succeeded (issue 19 item 7).
    proxy = fault_proxy(provider.endpoint, seed=11, rate=0.3, max_after=1_000,
                        faults=("truncate", "reset"))
    bucket, options = provider.cli(proxy.url, monkeypatch)
    write_tree(tmp_path / "src", tree(2))
    url = f"{bucket}/p"
    codes = [main(["storage", "push", str(tmp_path / "src"), url, *options])]
    codes.append(main(["storage", "pull", url, str(tmp_path / "dest"), *options]))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for code in codes:
        assert code == 0 or "Error: " in err
    assert sum(proxy.struck.values()) > 0, (proxy.faults, proxy.struck)
