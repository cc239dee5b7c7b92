"""A worker process for the concurrency tests: ``python _worker_proc.py MODE POOL OUT``.

MODE ``record``: drain the pool with a launcher that appends each run id it is given to
OUT and completes the run at once (no subprocess), so hundreds of claims stay fast. It
starts claiming only once the file ``OUT.go`` exists, so all workers start together.
MODE ``hang``: claim with a launcher whose runs never finish, heartbeating every 0.2s,
until killed.
"""

from __future__ import annotations

import os
import sys
import time

from stowflow.runs import State, set_state
from stowflow.workers.worker import Worker


class Handle:
    def __init__(self, run_id: str, done: bool) -> None:
        self.run_id = run_id
        self.done = done

    def poll(self) -> int | None:
        return 0 if self.done else None

    def terminate(self) -> None:
        self.done = True

    def kill(self) -> None:
        self.done = True

    def output_tail(self) -> str:
        return ""

    def cleanup(self) -> None:
        pass


class RecordingLauncher:
    def __init__(self, out: str, complete: bool) -> None:
        self.out = out
        self.complete = complete

    def launch(self, run, worker_name):
        fd = os.open(self.out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{run.id}\n".encode())
        finally:
            os.close(fd)
        set_state(run.id, State.RUNNING, worker_name=worker_name)
        if self.complete:
            set_state(run.id, State.COMPLETED, worker_name=worker_name)
        return Handle(run.id, self.complete)


def main() -> None:
    mode, pool, out = sys.argv[1:4]
    if mode == "record":
        while not os.path.exists(out + ".go"):
            time.sleep(0.01)
        worker = Worker(pool, limit=3, poll_interval=0.0, tick=0.0,
                        launcher=RecordingLauncher(out, complete=True))
        worker.start(exit_when_idle=True, install_signal_handlers=False)
    else:
        worker = Worker(pool, name=f"hanger-{os.getpid()}", limit=1, poll_interval=0.1,
                        heartbeat_interval=0.2, launcher=RecordingLauncher(out, complete=False))
        worker.start(install_signal_handlers=False)


if __name__ == "__main__":
    main()
