"""Running transfer tasks on a thread pool sized to the store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from stowflow.transfer.store import ObjectStore


def run_parallel(store: ObjectStore, tasks: Sequence[Callable[[], object]],
                 name: str = "stowflow-transfer") -> None:
    """Run ``tasks`` on up to ``store.max_concurrency`` threads; raise the first failure.

    On a failure the tasks not yet started are cancelled, the running ones are waited
    for (so no thread writes after this returns), and the first error is raised.
    """
    if not tasks:
        return
    workers = max(1, min(store.max_concurrency, len(tasks)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        futures = [pool.submit(task) for task in tasks]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f.done() and not f.cancelled() and f.exception()]
        if failed:
            for future in futures:
                future.cancel()
            wait(futures)
            raise failed[0].exception()  # type: ignore[misc]
