"""S3 rows of the sync benchmark: one object too big for a single request, on moto S3.

``run.py`` measures whole trees through the engine, where ``S3ObjectStore`` moves each
object in one request (below its 64 MiB multipart threshold). This module measures the
store's other path: a single large object uploaded as a multipart upload and downloaded
as parallel ranged GETs through boto3's transfer manager, against boto3's own
``upload_file`` / ``download_file`` (default TransferConfig) on the same bytes, in the
same process, with each phase's peak RSS.

    .venv/bin/python benchmarks/sync/s3_objects.py            # one 256 MB object
    .venv/bin/python benchmarks/sync/s3_objects.py --quick    # one 80 MB object
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import MB, PeakRss  # the same peak-RSS measure as the tree benchmark


def timed(label: str, nbytes: int, fn: Callable[[], object]) -> tuple[str, float, float]:
    """Run ``fn`` once; return (label, seconds, peak RSS in MB)."""
    with PeakRss() as rss:
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
    print(f"s3     object {label:34} {seconds:8.3f} {nbytes / MB / seconds:8.1f} "
          f"{rss.peak / MB:7.0f}MB")
    return label, seconds, rss.peak / MB


def sha256(path: Path) -> str:
    """Return the hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(MB):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> None:
    """Make the object, measure both clients up and down, print the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one 80 MB object")
    parser.add_argument("--mb", type=int, help="object size in MB (default 256)")
    args = parser.parse_args(argv)
    size = (args.mb or (80 if args.quick else 256)) * MB

    import boto3
    from stowflow.testing.servers.s3 import S3Server, start_moto
    from stowflow_aws import AwsCredentials, S3ObjectStore

    process = start_moto()
    try:
        server = S3Server(process)
        bucket = server.create_bucket()
        credentials = AwsCredentials(
            aws_access_key_id=server.access_key_id,
            aws_secret_access_key=server.secret_access_key, region_name=server.region,
            aws_client_parameters={"endpoint_url": server.endpoint_url})
        client = boto3.client("s3", **server.client_kwargs())
        with tempfile.TemporaryDirectory(prefix="stowflow-s3-bench-") as tmp:
            work = Path(tmp)
            source = work / "big.bin"
            with open(source, "wb") as fh:
                for _ in range(size // MB):
                    fh.write(os.urandom(MB))
            expected = sha256(source)
            print(f"{'target':6} {'data':6} {'phase':34} {'seconds':>8} {'MB/s':>8} "
                  f"{'peak RSS':>9}")
            rows = {}
            with S3ObjectStore(bucket, credentials=credentials) as store:
                for label, fn in (
                    ("boto3 upload_file", lambda: client.upload_file(str(source), bucket, "ref")),
                    ("store put (multipart)", lambda: store.put("store", source)),
                    ("boto3 download_file", lambda: client.download_file(
                        bucket, "ref", str(work / "ref.out"))),
                    ("store get_to_path (ranged GETs)", lambda: store.get_to_path(
                        "store", work / "store.out")),
                ):
                    _, seconds, _ = timed(label, size, fn)
                    rows[label] = seconds
                parts = (store.head("store").etag or "").rpartition("-")[2]
            assert sha256(work / "store.out") == expected, "the store's download is corrupt"
        print()
        print(f"[s3] store put is {rows['boto3 upload_file'] / rows['store put (multipart)']:.2f}x "
              f"boto3 upload_file ({parts} parts)")
        print(f"[s3] store get is "
              f"{rows['boto3 download_file'] / rows['store get_to_path (ranged GETs)']:.2f}x "
              "boto3 download_file")
    finally:
        process.stop()


if __name__ == "__main__":
    main()
