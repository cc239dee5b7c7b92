"""Pushes and pulls through a faulty network either succeed whole or fail with one clear
error, and leave no partial state.

Real moto S3 behind :class:`stowflow.testing.faults.FaultProxy` (resets, stalls,
truncated responses, latency; seeded per connection). Each round starts from a store and
a destination at version 1, pushes version 2 through the proxy, checks the store directly
(``HEAD`` names a whole version: 1, or 2 when the push said it succeeded), then pulls
through the proxy into the destination (version 2 byte for byte, or — on a clean error —
still version 1 with nothing left beside it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from stowflow import transfer
from stowflow.cli.app import main
from stowflow.errors import StorageError
from stowflow.testing.conformance import leftovers, read_tree, write_tree
from stowflow.testing.faults import FaultProxy
from stowflow_aws import AwsCredentials, S3ObjectStore

SEEDS = range(6)


def tree(version: int) -> dict[str, bytes]:
    files = {f"pkg/mod{i}.py": f"VERSION = {version}  # {i}\n".encode() * (i + 1)
             for i in range(12)}
    files["data/blob.bin"] = os.urandom(300_000) if version == 2 else b"v1" * 1000
    return files


def store_at(s3_server: Any, bucket: str, endpoint: str,
             sdk_attempts: int | None = None) -> S3ObjectStore:
    parameters: dict[str, Any] = {"endpoint_url": endpoint}
    if sdk_attempts:  # botocore's own retries, under the engine's five
        parameters["retries"] = {"max_attempts": sdk_attempts}
    credentials = AwsCredentials(
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key, region_name=s3_server.region,
        aws_client_parameters=parameters)
    return S3ObjectStore(bucket, credentials=credentials, max_concurrency=4)


def as_read(files: dict[str, bytes]) -> dict[str, tuple[bytes, bool]]:
    return {path: (data, False) for path, data in files.items()}


def assert_clean_error(exc: StorageError, bucket: str) -> None:
    text = str(exc)
    assert f"s3://{bucket}" in text and "\n" not in exc.message and "Traceback" not in text


@pytest.mark.parametrize("seed", SEEDS)
def test_push_and_pull_through_faults_are_whole_or_cleanly_refused(
    seed: int, s3_server: Any, fault_proxy: Callable[..., FaultProxy], tmp_path: Path
) -> None:
    bucket = s3_server.create_bucket()
    proxy = fault_proxy(s3_server.endpoint_url, seed=seed, rate=0.35, max_after=40_000)
    v1, v2 = tree(1), tree(2)
    write_tree(tmp_path / "v1", v1)
    write_tree(tmp_path / "v2", v2)
    dest = tmp_path / "work" / "dest"
    with store_at(s3_server, bucket, s3_server.endpoint_url) as direct, \
            store_at(s3_server, bucket, proxy.url) as faulty:
        transfer.push(tmp_path / "v1", direct, "p")
        transfer.pull(direct, "p", dest)

        try:
            transfer.push(tmp_path / "v2", faulty, "p")
            pushed = True
        except StorageError as exc:
            assert_clean_error(exc, bucket)
            pushed = False
        check = transfer.pull(direct, "p", tmp_path / "check")
        got = read_tree(check.directory)
        assert got == as_read(v2) if pushed else got in (as_read(v1), as_read(v2))
        current = got

        try:
            transfer.pull(faulty, "p", dest)
            assert read_tree(dest) == current
        except StorageError as exc:
            assert_clean_error(exc, bucket)
            assert read_tree(dest) == as_read(v1)  # untouched
        assert leftovers(dest.parent) == []
    assert sum(proxy.faults[f] for f in ("reset", "truncate", "stall", "latency")) > 0


def test_a_network_that_resets_everything_fails_cleanly_and_changes_nothing(
    s3_server: Any, fault_proxy: Callable[..., FaultProxy], tmp_path: Path
) -> None:
    bucket = s3_server.create_bucket()
    proxy = fault_proxy(s3_server.endpoint_url, seed=3, rate=1.0, max_after=1,
                        faults=("reset", "truncate"))
    write_tree(tmp_path / "v1", tree(1))
    write_tree(tmp_path / "v2", tree(2))
    dest = tmp_path / "work" / "dest"
    with store_at(s3_server, bucket, s3_server.endpoint_url) as direct, \
            store_at(s3_server, bucket, proxy.url, sdk_attempts=1) as faulty:
        first = transfer.push(tmp_path / "v1", direct, "p").version
        transfer.pull(direct, "p", dest)
        with pytest.raises(StorageError) as pushing:
            transfer.push(tmp_path / "v2", faulty, "p")
        assert_clean_error(pushing.value, bucket)
        assert [v.id for v in transfer.list_versions(direct, "p") if v.current] == [first]
        with pytest.raises(StorageError) as pulling:
            transfer.pull(faulty, "p", dest)
        assert_clean_error(pulling.value, bucket)
        assert read_tree(dest) == as_read(tree(1))
        assert leftovers(dest.parent) == []


def test_the_cli_through_faults_prints_no_third_party_traceback(
    s3_server: Any, fault_proxy: Callable[..., FaultProxy], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A cut-short response made urllib3 log a traceback on stderr during a push that then
    # succeeded (issue 19 item 7).
    bucket = s3_server.create_bucket()
    proxy = fault_proxy(s3_server.endpoint_url, seed=11, rate=0.3, max_after=8_000,
                        faults=("truncate", "reset"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    write_tree(tmp_path / "src", tree(2))
    url = f"s3://{bucket}/p"
    codes = [main(["storage", "push", str(tmp_path / "src"), url, "-o",
                   f"endpoint_url={proxy.url}"])]
    codes.append(main(["storage", "pull", url, str(tmp_path / "dest"), "-o",
                       f"endpoint_url={proxy.url}"]))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for code in codes:
        assert code == 0 or "Error: " in err
    assert proxy.faults["pass"] < sum(proxy.faults.values())
