"""A pull that meets a full disk: one clear message, the destination untouched, exit 1.

Regression (issue 19 item 7): disk-full on S3 or with the cache on the full disk was
"unexpected OSError: [Errno 28]"; on file:// it blamed the store and named no local path.
These tests fail on the old code. The full disk is real: each pull runs in a private mount
namespace (``unshare``) with a small tmpfs where the destination or the cache lives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from stowflow import transfer
from stowflow.testing.conformance import write_tree

pytestmark = pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux")


def pull_on_a_small_disk(disk: Path, size: str, *argv: str,
                         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``stowflow storage pull ARGV`` with a ``size`` tmpfs mounted at ``disk``."""
    disk.mkdir(parents=True, exist_ok=True)
    script = 'mount -t tmpfs -o size="$1" stowflow-test "$2" && shift 2 && exec "$@"'
    return subprocess.run(
        ["unshare", "-Urm", "sh", "-c", script, "sh", size, str(disk), sys.executable, "-m",
         "stowflow.cli", "storage", "pull", *argv],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def assert_one_clear_error(result: subprocess.CompletedProcess[str], dest: Path) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    text = " ".join(result.stderr.split())
    assert lines[0].startswith("Error: no space left on the disk to pull into"), text
    assert str(dest) in text and "needs" in text and "free in" in text
    assert "Traceback" not in text and "Errno" not in text


def local_store(tmp_path: Path, files: dict[str, bytes]) -> str:
    write_tree(tmp_path / "src", files)
    store, prefix = transfer.open_store(f"file://{tmp_path / 'bucket'}/p")
    with store:
        transfer.push(tmp_path / "src", store, prefix)
    return f"file://{tmp_path / 'bucket'}/p"


def test_a_pull_bigger_than_the_destination_disk_is_refused_before_writing(
    tmp_path: Path,
) -> None:
    url = local_store(tmp_path, {"big.bin": os.urandom(3 * 1024 * 1024), "a.py": b"a\n"})
    disk = tmp_path / "disk"
    result = pull_on_a_small_disk(disk, "1m", url, str(disk / "dest"))
    assert_one_clear_error(result, disk / "dest")
    assert "3.0 MiB" in result.stderr
    assert list(disk.iterdir()) == []  # the mount is gone; nothing was left on our side


def test_a_disk_that_fills_midway_leaves_no_half_written_tree(tmp_path: Path) -> None:
    # 400 files of 300 bytes are 120 KB of content but 1.6 MB of tmpfs pages: the check
    # before the pull passes and the disk fills while the files are written.
    files = {f"pkg/m{i}.py": os.urandom(150).hex().encode() for i in range(400)}
    url = local_store(tmp_path, files)
    disk = tmp_path / "disk"
    dest = disk / "dest"
    result = pull_on_a_small_disk(disk, "512k", url, str(dest))
    assert_one_clear_error(result, dest)
    assert list(disk.iterdir()) == []


def test_a_cache_on_a_full_disk_from_s3_is_named(
    tmp_path: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stowflow.settings import get_settings
    from stowflow_aws import AwsCredentials, S3ObjectStore

    bucket = s3_server.create_bucket()
    write_tree(tmp_path / "src", {"big.bin": os.urandom(2 * 1024 * 1024)})
    credentials = AwsCredentials(
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key, region_name=s3_server.region,
        aws_client_parameters={"endpoint_url": s3_server.endpoint_url})
    with S3ObjectStore(bucket, credentials=credentials) as store:
        transfer.push(tmp_path / "src", store, "p")
    cache_disk = get_settings().cache_dir / "transfer"
    shutil.rmtree(cache_disk, ignore_errors=True)
    env = {"AWS_ACCESS_KEY_ID": s3_server.access_key_id,
           "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
           "AWS_DEFAULT_REGION": s3_server.region}
    dest = tmp_path / "dest"
    result = pull_on_a_small_disk(cache_disk, "1m", f"s3://{bucket}/p", str(dest),
                                  "-o", f"endpoint_url={s3_server.endpoint_url}", env=env)
    assert_one_clear_error(result, dest)
    assert str(cache_disk) in " ".join(result.stderr.split())
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir() if "stowflow-new" in p.name] == []
