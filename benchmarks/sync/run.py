"""Sync-engine benchmark: push, cold pull, warm pull and one-file-changed pull, against a
local fsspec store and (when stowflow-aws is installed) moto's S3 server on 127.0.0.1.

Every measurement prints seconds, MB/s, store requests and the peak RSS of this process
during the phase, plus the ratio to the naive sequential baseline (one request per file,
one at a time) run in the same process on the same data. The S3 store comes from the
plugins' ``stowflow_object_store_for_url`` hook for ``s3://bucket`` — no plugin import.

    .venv/bin/python benchmarks/sync/run.py            # full sizes (2,000 files; 200 MB)
    .venv/bin/python benchmarks/sync/run.py --quick    # CI smoke run, seconds
    .venv/bin/python benchmarks/sync/run.py --target s3 --datasets small
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_data as datasets
from bench_baseline import SequentialSync, boto3_parallel_download, parallel_download
from stowflow import transfer
from stowflow.transfer.instrument import CountingStore
from stowflow.transfer.store import ObjectStore

MB = 1024 * 1024


def _status(field_name: str) -> int:
    """Return a ``/proc/self/status`` memory field in bytes (0 where there is no /proc)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _release_memory() -> None:
    """Give freed memory back to the OS, so a phase's peak is not an earlier phase's."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakRss:
    """The peak resident memory of this process during a phase.

    Linux resets the high-water mark (``VmHWM``) when ``5`` is written to
    ``/proc/self/clear_refs``; memory freed by earlier phases is returned first. Where
    that is impossible, a sampling thread watches ``VmRSS`` instead.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._hwm = False

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _status("VmRSS"))
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        _release_memory()
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self._hwm = True
        except OSError:
            self._thread.start()
        self.peak = _status("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._hwm:
            self.peak = max(self.peak, _status("VmHWM"))
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, _status("VmRSS"))


@dataclass
class Measurement:
    """One timed phase."""

    target: str
    dataset: str
    phase: str
    seconds: float
    mbytes: float
    requests: int
    peak_rss_mb: float
    baseline: str | None = None
    ratio: float | None = None  # baseline seconds / these seconds (higher is better)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mb_per_s(self) -> float:
        """Throughput over the data set's size."""
        return self.mbytes / self.seconds if self.seconds else float("inf")


def measure(target: str, dataset: str, phase: str, nbytes: int, counting: CountingStore,
            fn: Callable[[], Any]) -> tuple[Measurement, Any]:
    """Run ``fn`` once, timing it and counting ``counting``'s requests."""
    counting.reset()
    with PeakRss() as rss:
        start = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - start
    return Measurement(target, dataset, phase, seconds, nbytes / MB, counting.requests,
                       rss.peak / MB), value


@contextmanager
def fresh_home(root: Path) -> Iterator[Path]:
    """Point STOWFLOW_HOME (and so the content cache) at a new empty folder."""
    home = root / f"home-{uuid.uuid4().hex[:8]}"
    old = os.environ.get("STOWFLOW_HOME")
    os.environ["STOWFLOW_HOME"] = str(home)
    try:
        yield home
    finally:
        if old is None:
            os.environ.pop("STOWFLOW_HOME", None)
        else:
            os.environ["STOWFLOW_HOME"] = old


def bench_dataset(target: str, store: ObjectStore, kind: str, sizes: datasets.Sizes,
                  work: Path, parallel: Callable[[str, Path], int],
                  spec: dict[str, Any]) -> list[Measurement]:
    """Measure the baselines and the engine on data set ``kind``; return every phase."""
    src = datasets.make_dataset(work / f"data-{kind}", kind, sizes)
    nbytes = datasets.tree_bytes(src)
    run = f"bench-{uuid.uuid4().hex[:8]}/{kind}"
    counting = CountingStore(store)
    naive = SequentialSync(counting)
    out: list[Measurement] = []

    def add(phase: str, fn: Callable[[], Any], baseline: Measurement | None = None) -> Measurement:
        m, _ = measure(target, kind, phase, nbytes, counting, fn)
        if baseline is not None:
            m.baseline, m.ratio = baseline.phase, baseline.seconds / m.seconds
        out.append(m)
        return m

    base_push = add("baseline: sequential push", lambda: naive.push(src, f"{run}/naive"))
    base_pull = add("baseline: sequential pull",
                    lambda: naive.pull(f"{run}/naive", work / f"naive-{kind}"))
    par = add("baseline: 32-thread pull", lambda: parallel(f"{run}/naive", work / f"par-{kind}"))
    with fresh_home(work):
        add("engine: push", lambda: transfer.push(src, counting, f"{run}/engine"), base_push)
    dest = work / f"dest-{kind}"
    with fresh_home(work):
        cold = add("engine: cold pull",
                   lambda: transfer.pull(counting, f"{run}/engine", dest), base_pull)
        cold.extra["vs 32-thread pull"] = round(cold.seconds / par.seconds, 2)  # lower wins
        add("engine: warm pull", lambda: transfer.pull(counting, f"{run}/engine", dest), base_pull)
        datasets.change_one_file(src)
        add("engine: one-file push", lambda: transfer.push(src, counting, f"{run}/engine"),
            base_push)
        add("engine: one-file pull", lambda: transfer.pull(counting, f"{run}/engine", dest),
            base_pull)
    child = run_child_pull(spec, f"{run}/engine", work / f"child-{kind}",
                           work / f"home-child-{kind}")
    out.append(Measurement(target, kind, "engine: cold pull (own process)", child["seconds"],
                           nbytes / MB, child["requests"], child["peak_rss"] / MB,
                           base_pull.phase, base_pull.seconds / child["seconds"],
                           {"vs 32-thread pull": round(child["seconds"] / par.seconds, 2),
                            "RSS at start MB": round(child["start_rss"] / MB)}))
    shutil.rmtree(src, ignore_errors=True)
    for folder in (f"naive-{kind}", f"par-{kind}", f"dest-{kind}", f"child-{kind}"):
        shutil.rmtree(work / folder, ignore_errors=True)
    return out


def open_spec(spec: dict[str, Any]) -> ObjectStore:
    """Make the store a spec describes (so a child process can make the same one).

    ``{"kind": "local", "root": ...}`` is a local folder through core's fsspec store;
    ``{"kind": "url", "url": ..., "options": ...}`` asks the plugins' object-store hook.
    """
    if spec["kind"] == "local":
        import fsspec
        from stowflow.transfer import FsspecStore

        return FsspecStore(fsspec.filesystem("file"), spec["root"], label="file://bench")
    from stowflow.plugins import get_plugin_manager

    store: ObjectStore = get_plugin_manager().hook.stowflow_object_store_for_url(
        url=spec["url"], options=dict(spec["options"]))
    return store


def child_pull() -> None:
    """In a fresh process: cold-pull a prefix and print time, requests and peak RSS (JSON).

    A fresh process is the only honest peak-RSS figure: memory an earlier phase (a
    32-thread baseline) made resident stays resident in the parent.
    """
    job = json.loads(sys.stdin.read())  # on stdin: the spec may hold credentials
    os.environ["STOWFLOW_HOME"] = job["home"]
    counting = CountingStore(open_spec(job["spec"]))
    start_rss = _status("VmRSS")
    start = time.perf_counter()
    transfer.pull(counting, job["prefix"], job["dest"])
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "requests": counting.requests,
                      "peak_rss": _status("VmHWM"), "start_rss": start_rss}))


def run_child_pull(spec: dict[str, Any], prefix: str, dest: Path, home: Path) -> dict[str, Any]:
    """Run :func:`child_pull` in a new interpreter and return what it measured."""
    job = json.dumps({"spec": spec, "prefix": prefix, "dest": str(dest), "home": str(home)})
    done = subprocess.run([sys.executable, __file__, "--child-pull"], input=job,
                          capture_output=True, text=True, timeout=900, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@contextmanager
def local_target(work: Path) -> Iterator[tuple[ObjectStore, Callable[[str, Path], int], dict]]:
    """A file:// bucket on local disk through core's fsspec store."""

    spec = {"kind": "local", "root": str(work / "bucket")}
    store = open_spec(spec)
    yield store, lambda prefix, dest: parallel_download(store, prefix, dest), spec


@contextmanager
def s3_target(work: Path) -> Iterator[tuple[ObjectStore, Callable[[str, Path], int], dict]]:
    """A moto S3 server on 127.0.0.1; the store comes from the plugins' URL hook."""
    import boto3
    from botocore.config import Config
    from stowflow.testing.servers.s3 import S3Server, start_moto

    process = start_moto()
    try:
        server = S3Server(process)
        bucket = server.create_bucket()
        spec = {"kind": "url", "url": f"s3://{bucket}",
                "options": {"endpoint_url": server.endpoint_url, "key": server.access_key_id,
                            "secret": server.secret_access_key,
                            "client_kwargs": {"region_name": server.region}}}
        store = open_spec(spec)
        client = boto3.client("s3", config=Config(max_pool_connections=32),
                              **server.client_kwargs())
        with store:
            yield (store, lambda prefix, dest: boto3_parallel_download(client, bucket, prefix, dest),
                   spec)
    finally:
        process.stop()


TARGETS = {"local": local_target, "s3": s3_target}


def report(results: list[Measurement]) -> None:
    """Print a table of every measurement and the issue's targets."""
    header = (f"{'target':6} {'data':6} {'phase':32} {'seconds':>8} {'MB/s':>8} "
              f"{'requests':>8} {'peak RSS':>9} {'vs baseline':>12}")
    print(header)
    print("-" * len(header))
    for m in results:
        ratio = f"{m.ratio:10.1f}x" if m.ratio is not None else ""
        extra = "  " + ", ".join(f"{k} {v}" for k, v in m.extra.items()) if m.extra else ""
        print(f"{m.target:6} {m.dataset:6} {m.phase:32} {m.seconds:8.3f} {m.mb_per_s:8.1f} "
              f"{m.requests:8d} {m.peak_rss_mb:7.0f}MB {ratio:>12}{extra}")
    print()
    by = {(m.target, m.dataset, m.phase): m for m in results}
    for target in sorted({m.target for m in results}):
        checks = []
        small = {p: by.get((target, "small", p)) for p in
                 ("engine: cold pull", "engine: push", "engine: warm pull")}
        if all(small.values()):
            cold, push, warm = small["engine: cold pull"], small["engine: push"], small[
                "engine: warm pull"]
            checks += [
                ("small cold pull >= 10x sequential", cold.ratio or 0, (cold.ratio or 0) >= 10),
                ("small push >= 10x sequential", push.ratio or 0, (push.ratio or 0) >= 10),
                ("small warm pull >= 50x sequential", warm.ratio or 0, (warm.ratio or 0) >= 50),
                ("small warm pull < 20 requests", warm.requests, warm.requests < 20),
            ]
        large = by.get((target, "large", "engine: cold pull"))
        if large:
            rel = large.extra.get("vs 32-thread pull", 0)
            checks.append(("large cold pull <= 1.3x 32-thread pull", rel, rel <= 1.3))
        alone = by.get((target, "large", "engine: cold pull (own process)"))
        if alone:
            checks.append(("large cold pull peak RSS < 150 MB (own process)",
                           round(alone.peak_rss_mb), alone.peak_rss_mb < 150))
        for name, value, ok in checks:
            print(f"[{target}] {'MET ' if ok else 'MISS'} {name}: {value:.1f}"
                  if isinstance(value, float) else
                  f"[{target}] {'MET ' if ok else 'MISS'} {name}: {value}")


# --- Azure Blob Storage rows (stowflow-azure, against Azurite on 127.0.0.1) -------------


def azure_sdk_parallel_download(container_client: Any, prefix: str, dest: Path,
                                threads: int = 32) -> int:
    """The reference for Azure: a 32-thread ``download_blob().readinto`` of each blob."""
    from concurrent.futures import ThreadPoolExecutor

    base = f"{prefix}/"
    names = [blob.name for blob in container_client.list_blobs(name_starts_with=base)]
    for name in names:
        (dest / name[len(base):]).parent.mkdir(parents=True, exist_ok=True)

    def fetch(name: str) -> None:
        with open(dest / name[len(base):], "wb") as out:
            container_client.download_blob(name).readinto(out)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(fetch, names))
    return len(names)


@contextmanager
def azure_target(work: Path) -> Iterator[tuple[ObjectStore, Callable[[str, Path], int], dict]]:
    """An Azurite container on 127.0.0.1; the store comes from the plugins' URL hook."""
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from azure.storage.blob import BlobServiceClient
    from stowflow.testing.servers.azurite import AzuriteServer, start_azurite

    process = start_azurite()
    try:
        server = AzuriteServer(port=process.port)
        container = server.create_container()
        spec = {"kind": "url", "url": f"az://{container}",
                "options": {"connection_string": server.connection_string}}
        store = open_spec(spec)
        session = requests.Session()  # a pool as large as the reference's 32 threads
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))
        reference = BlobServiceClient.from_connection_string(
            server.connection_string, transport=RequestsTransport(session=session))
        with store, reference:
            client = reference.get_container_client(container)
            yield (store, lambda prefix, dest: azure_sdk_parallel_download(client, prefix, dest),
                   spec)
    finally:
        process.stop()


TARGETS["azure"] = azure_target


# --- Google Cloud Storage rows (stowflow-gcp, against fake-gcs-server on 127.0.0.1) -----


def gcs_sdk_parallel_download(bucket: Any, prefix: str, dest: Path, threads: int = 32) -> int:
    """The reference for GCS: a 32-thread ``download_to_filename`` of each object."""
    from concurrent.futures import ThreadPoolExecutor

    base = f"{prefix}/"
    names = [blob.name for blob in bucket.client.list_blobs(bucket, prefix=base)]
    for name in names:
        (dest / name[len(base):]).parent.mkdir(parents=True, exist_ok=True)

    def fetch(name: str) -> None:
        bucket.blob(name).download_to_filename(str(dest / name[len(base):]))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(fetch, names))
    return len(names)


@contextmanager
def gcs_target(work: Path) -> Iterator[tuple[ObjectStore, Callable[[str, Path], int], dict]]:
    """A fake-gcs-server bucket on 127.0.0.1; the store comes from the plugins' URL hook."""
    import requests
    from google.auth.credentials import AnonymousCredentials
    from google.auth.transport.requests import AuthorizedSession
    from google.cloud import storage
    from stowflow.testing.servers.gcs import start_gcs_server

    server = start_gcs_server()
    try:
        bucket = server.create_bucket()
        spec = {"kind": "url", "url": f"gs://{bucket}",
                "options": {"credentials": {"api_endpoint": server.endpoint}}}
        store = open_spec(spec)
        session = AuthorizedSession(AnonymousCredentials())  # a pool for the 32 threads
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))
        reference = storage.Client(project=server.project, credentials=AnonymousCredentials(),
                                   _http=session,
                                   client_options={"api_endpoint": server.endpoint})
        with store:
            yield (store, lambda prefix, dest: gcs_sdk_parallel_download(
                reference.bucket(bucket), prefix, dest), spec)
        reference.close()
    finally:
        server.process.stop()


if importlib.util.find_spec("stowflow_gcp") is not None:
    TARGETS["gcs"] = gcs_target


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Parse arguments, run the chosen targets and data sets, print and return the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--target", choices=[*TARGETS, "all"], default="all")
    parser.add_argument("--datasets", default="small,large,mixed",
                        help="comma-separated: small, large, mixed")
    parser.add_argument("--small-files", type=int, help="override the small set's file count")
    parser.add_argument("--large-mb", type=int, help="override the large files' size (MB)")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument("--child-pull", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_pull:
        child_pull()
        return []
    sizes = datasets.QUICK if args.quick else datasets.FULL
    if args.small_files:
        sizes = datasets.Sizes(**{**asdict(sizes), "small_files": args.small_files})
    if args.large_mb:
        sizes = datasets.Sizes(**{**asdict(sizes), "large_size": args.large_mb * MB})
    targets = list(TARGETS) if args.target == "all" else [args.target]
    if "s3" in targets and importlib.util.find_spec("stowflow_aws") is None:
        print("stowflow-aws is not installed: skipping the S3 target")
        targets.remove("s3")
    if "azure" in targets and importlib.util.find_spec("stowflow_azure") is None:
        print("stowflow-azure is not installed: skipping the Azure target")
        targets.remove("azure")
    results: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="stowflow-bench-") as tmp:
        work = Path(tmp)
        os.environ["STOWFLOW_HOME"] = str(work / "home")
        for target in targets:
            with TARGETS[target](work / target) as (store, parallel, spec):
                for kind in args.datasets.split(","):
                    results += bench_dataset(target, store, kind.strip(), sizes,
                                             work / target, parallel, spec)
    report(results)
    if args.json:
        args.json.write_text(json.dumps([asdict(m) | {"mb_per_s": m.mb_per_s} for m in results],
                                        indent=2))
    return results


if __name__ == "__main__":
    main()
