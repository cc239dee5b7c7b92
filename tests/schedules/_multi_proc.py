"""One process of the many-schedulers test: ``python _multi_proc.py MODE DIR``.

MODE ``scheduler``: tick every 0.1 s (horizon 1 s, catch-up 5) until ``DIR/stop-schedulers``
exists. MODE ``worker``: claim and "run" the pool's runs with the recording launcher of
``tests/workers/_worker_proc.py`` (each run id it is given is appended to ``DIR/executed``,
the run is completed at once) until ``DIR/stop-workers`` exists. Each says it is ready
(``DIR/ready-PID``) and starts when ``DIR/go`` exists, so they all begin together.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workers"))

from _worker_proc import RecordingLauncher
from stowflow.schedules import Scheduler
from stowflow.workers.worker import Worker


def main() -> None:
    mode, folder = sys.argv[1], Path(sys.argv[2])
    from stowflow.db import get_engine

    get_engine()  # connected and at the head revision before the start
    (folder / f"ready-{os.getpid()}").touch()
    while not (folder / "go").exists():
        time.sleep(0.01)
    if mode == "scheduler":
        scheduler = Scheduler(interval=0.1, horizon=timedelta(seconds=1), catchup=5)
        while not (folder / "stop-schedulers").exists():
            scheduler.tick()  # an error fails the process, and so the test
            time.sleep(0.1)
        return
    worker = Worker("pool", limit=4, poll_interval=0.05, tick=0.01,
                    launcher=RecordingLauncher(str(folder / "executed"), complete=True))
    thread = threading.Thread(target=worker.start,
                              kwargs={"install_signal_handlers": False})
    thread.start()
    while not (folder / "stop-workers").exists():
        time.sleep(0.05)
    worker.stop()
    thread.join(30)


if __name__ == "__main__":
    main()
