"""The naive baselines the engine is measured against, run in the same process.

``SequentialSync`` is the anchor tool's behaviour: one request per file, one at a time, no
manifest, no cache. ``parallel_download`` is the best a plain copy can do: every object
fetched with a pool of threads (32 by default), still one request per file.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stowflow.transfer.store import ObjectStore


class SequentialSync:
    """Push and pull a folder with one request per file, sequentially, through ``store``."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def push(self, source: Path, prefix: str) -> int:
        """Upload every file of ``source`` under ``prefix``; return how many."""
        count = 0
        for path in sorted(source.rglob("*")):
            if path.is_file():
                self.store.put(f"{prefix}/{path.relative_to(source).as_posix()}", path)
                count += 1
        return count

    def pull(self, prefix: str, dest: Path) -> int:
        """List ``prefix`` and download each object into ``dest``; return how many."""
        count = 0
        base = f"{prefix}/"
        for info in self.store.list(base):
            target = dest / info.key[len(base):]
            target.parent.mkdir(parents=True, exist_ok=True)
            self.store.get_to_path(info.key, target)
            count += 1
        return count


def parallel_download(store: ObjectStore, prefix: str, dest: Path, threads: int = 32) -> int:
    """Download every object under ``prefix`` into ``dest`` with ``threads`` threads."""
    base = f"{prefix}/"
    infos = list(store.list(base))
    for info in infos:
        (dest / info.key[len(base):]).parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda i: store.get_to_path(i.key, dest / i.key[len(base):]), infos))
    return len(infos)


def boto3_parallel_download(client: object, bucket: str, prefix: str, dest: Path,
                            threads: int = 32) -> int:
    """The reference for large objects: a 32-thread boto3 ``download_file`` of each object."""
    base = f"{prefix}/"
    keys = []
    paginator = client.get_paginator("list_objects_v2")  # type: ignore[attr-defined]
    for page in paginator.paginate(Bucket=bucket, Prefix=base):
        keys += [obj["Key"] for obj in page.get("Contents", [])]
    for key in keys:
        (dest / key[len(base):]).parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda k: client.download_file(  # type: ignore[attr-defined]
            bucket, k, str(dest / k[len(base):])), keys))
    return len(keys)
