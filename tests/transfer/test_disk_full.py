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


# --- pushes -----------------------------------------------------------------------------------

_PUSH_TWICE = """
set -u
mount -t tmpfs -o size="$1" stowflow-test "$2" || exit 9
shift 2
python="$1" small="$2" big="$3" url="$4"
"$python" -m stowflow.cli storage push "$small" "$url" >/dev/null || exit 8
echo "--- big push" >&2
"$python" -m stowflow.cli storage push "$big" "$url"
echo "--- exit $?" >&2
"$python" -m stowflow.cli storage versions "$url"
"$python" -m stowflow.cli storage pull "$url" "$5" >/dev/null && cat "$5/a.py"
"""


@pytest.mark.parametrize("layout_files", [False, True])
def test_a_push_to_a_full_local_store_names_the_path_and_the_space_needed(
    layout_files: bool, tmp_path: Path,
) -> None:
    # Regression (issue 19 item 7): on file:// a full disk was "No space left on device
    # during put of '<key>'", blaming the store, naming no local path and no size. Fails on
    # the old code.
    write_tree(tmp_path / "small", {"a.py": b"version = 1\n"})
    write_tree(tmp_path / "big", {"a.py": b"version = 2\n", "big.bin": os.urandom(3 << 20)})
    disk = tmp_path / "disk"
    disk.mkdir()
    url = f"file://{disk}/bucket/p"
    script = _PUSH_TWICE.replace('"$big" "$url"\n', '"$big" "$url" --layout files\n') \
        if layout_files else _PUSH_TWICE
    result = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", script, "sh", "1m", str(disk), sys.executable,
         str(tmp_path / "small"), str(tmp_path / "big"), url, str(disk / "check")],
        capture_output=True, text=True, timeout=180)
    err = result.stderr.split("--- big push\n", 1)[-1]
    message, _, after = err.partition("--- exit ")
    text = " ".join(message.split())
    assert after.startswith("1"), result.stdout + result.stderr
    assert text.startswith(f"Error: no space left on the disk to push '{tmp_path / 'big'}' "
                           f"to file://{disk}/bucket/p writing '{disk}/bucket/p/"), text
    assert "the push uploads 3.0 MiB" in text and "free in" in text, text
    assert "Traceback" not in text and "Errno" not in text
    assert result.stdout.rstrip().endswith("version = 1"), result.stdout  # HEAD unchanged
