"""Issue 19 item 6: no run is lost to a database restart or a killed worker, and no run
proceeds without a live worker.

Real parts throughout: a PostgreSQL server of the test's own (so it can be stopped and
started again), ``stowflow worker start`` subprocesses, real run processes and their fork
servers, ``kill -9``. Each test is bounded in time by its deadlines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from stowflow.db import dispose_engines
from stowflow.deployments.records import upsert_deployment
from stowflow.runs import create_flow_run, get_flow_run, is_final, read_events, read_logs
from stowflow.testing.servers.postgres import (
    PostgresServer,
    pause_postgres,
    resume_postgres,
    start_postgres,
    stop_postgres,
)
from stowflow.workers.claim import MAX_START_ATTEMPTS, START_PHASE
from stowflow.workers.pools import create_pool

FLOW = '''
import time
from pathlib import Path

from stowflow import flow


@flow
def job(marker: str, nap: float = 0.0):
    time.sleep(nap)
    Path(marker).write_text("done")
'''

#: Makes every interpreter of a run wait before it runs a line of stowflow, so a test can
#: take the database away between the claim and the run's start-up, deterministically.
SLOW_START = "import time\ntime.sleep(1.0)\n"

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def own_postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[PostgresServer]:
    """A PostgreSQL server this test may stop and start; the database is in use."""
    server = start_postgres()
    name = f"sf_{uuid.uuid4().hex[:12]}"
    server.admin(f'CREATE DATABASE "{name}"')
    monkeypatch.setenv("STOWFLOW_DATABASE_URL", server.url(name))
    dispose_engines()
    try:
        yield server
    finally:
        dispose_engines()
        stop_postgres(server)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "job.py").write_text(FLOW)
    return root


def deploy(project: Path, env: dict[str, str] | None = None) -> str:
    create_pool("pool", exist_ok=True)
    return upsert_deployment(
        name="dep", flow_name="job", entrypoint="flows/job.py:job", work_pool_name="pool",
        job_variables={"env": env or {}},
        parameter_schema={"type": "object", "properties": {"marker": {"type": "string"},
                                                           "nap": {"type": "number"}}},
        pull_steps=[{"stowflow.deployments.steps.set_working_directory":
                     {"directory": str(project)}}])


def start_worker(*extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "stowflow", "worker", "start", "--pool", "pool",
         "--poll-interval", "0.1", "--heartbeat-interval", "0.2", *extra],
        env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def stop(worker: subprocess.Popen[bytes]) -> str:
    if worker.poll() is None:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
    return worker.stdout.read().decode(errors="replace") if worker.stdout else ""


def wait_until_final(run_ids: list[str], timeout: float, worker=None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if all(is_final(get_flow_run(r).state) for r in run_ids):
                return
        except Exception:  # the database is coming back
            pass
        if worker is not None and worker.poll() is not None:
            pytest.fail(f"the worker exited: {stop(worker)}")
        assert time.monotonic() < deadline, [
            (r[:8], get_flow_run(r).state) for r in run_ids]
        time.sleep(0.1)


def run_processes(home: str) -> list[int]:
    """Pids of live run processes and fork servers of this test's STOWFLOW_HOME."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if b"stowflow.workers.execute" not in cmdline:
                continue
            environ = (proc / "environ").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"STOWFLOW_HOME={home}".encode() in environ and state != "Z":
            found.append(int(proc.name))
    return found


def process_of(run_id: str) -> bool:
    """Whether a fresh run process (``execute RUN_ID``) of ``run_id`` is alive."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if b"stowflow.workers.execute" in cmdline and run_id.encode() in cmdline \
                and state != "Z":
            return True
    return False


def start_failures(run_id: str) -> list[dict]:
    return [e.details for e in read_events(run_id)
            if e.phase == START_PHASE and e.status == "failed"]


def test_database_down_at_run_start_up_puts_the_run_back_not_crashed(
        own_postgres, project, tmp_path):
    """Fails on the old code: the run was CRASHED ("the run process exited with code 1")."""
    sitedir = tmp_path / "slowstart"
    sitedir.mkdir()
    (sitedir / "sitecustomize.py").write_text(SLOW_START)
    # PYTHONWARNINGS makes the worker start a fresh interpreter (it is read at start-up),
    # which then waits 1 s in sitecustomize before its first stowflow line.
    deploy(project, env={"PYTHONPATH": str(sitedir), "PYTHONWARNINGS": "default"})
    marker = tmp_path / "marker"
    run = create_flow_run("job/dep", {"marker": str(marker)})
    worker = start_worker()
    try:
        deadline = time.monotonic() + 60
        while not any(e.phase == "resolve" for e in read_events(run.id)):
            assert time.monotonic() < deadline, "the worker never launched the run"
            assert worker.poll() is None, stop(worker)
            time.sleep(0.02)
        dispose_engines()
        pause_postgres(own_postgres)  # the run process is still in sitecustomize
        deadline = time.monotonic() + 60
        while process_of(run.id):  # it wakes up, cannot connect, exits
            assert time.monotonic() < deadline, "the run process never gave up"
            time.sleep(0.05)
        time.sleep(1.0)  # and the worker cannot settle it yet
        assert worker.poll() is None, "the worker must survive the database restart"
        resume_postgres(own_postgres)
        wait_until_final([run.id], 90, worker)
    finally:
        output = stop(worker)
    final = get_flow_run(run.id)
    assert final.state == "COMPLETED", (final.state, final.state_message, output)
    assert marker.read_text() == "done"
    (failure,) = start_failures(run.id)
    assert failure["attempt"] == 1 and failure["then"] == "SCHEDULED"
    assert "before the run started" in failure["reason"]
    assert "could not start" in failure["reason"]  # the run process said why
    assert any("did not start" in line.message for line in read_logs(run.id))


def test_runs_that_keep_failing_to_start_are_crashed_after_bounded_attempts(
        own_postgres, project, tmp_path):
    """A run whose process can never reach the database is not retried forever."""
    dead = own_postgres.url("no_such_database")  # refused at connect, every time
    deploy(project, env={"STOWFLOW_DATABASE_URL": dead, "PYTHONWARNINGS": "default"})
    run = create_flow_run("job/dep", {"marker": str(tmp_path / "never")})
    worker = start_worker()
    try:
        wait_until_final([run.id], 120, worker)
    finally:
        stop(worker)
    final = get_flow_run(run.id)
    assert final.state == "CRASHED"
    assert f"failed to start {MAX_START_ATTEMPTS} times" in final.state_message
    assert [f["attempt"] for f in start_failures(run.id)] == list(
        range(1, MAX_START_ATTEMPTS + 1))
    assert final.started_at is None


def test_postgres_restarts_under_load_lose_no_run(own_postgres, project, tmp_path):
    """Two workers drain 24 runs while PostgreSQL is restarted twice: every run ends, and
    a run that is not COMPLETED had started (its flow code may have begun)."""
    deploy(project)
    markers = tmp_path / "markers"
    markers.mkdir()
    runs = [create_flow_run("job/dep", {"marker": str(markers / str(i)), "nap": 0.2}).id
            for i in range(24)]
    workers = [start_worker("--limit", "3"), start_worker("--limit", "3")]
    try:
        for restart in range(2):
            deadline = time.monotonic() + 60
            while len(list(markers.iterdir())) < 4 * (restart + 1):
                assert time.monotonic() < deadline, "no progress before a restart"
                time.sleep(0.05)
            dispose_engines()
            pause_postgres(own_postgres)
            time.sleep(1.5)
            resume_postgres(own_postgres)
        for w in workers:
            assert w.poll() is None, stop(w)
        wait_until_final(runs, 180)
    finally:
        outputs = [stop(w) for w in workers]
    finals = [get_flow_run(r) for r in runs]
    never_started = [r for r in finals if r.started_at is None and r.state != "COMPLETED"]
    assert never_started == [], ([(r.state, r.state_message) for r in never_started], outputs)


KILL_DELAYS = (0.0, 0.15, 0.4, 0.8, 1.4)


def test_kill_9_of_a_worker_at_many_points_leaves_no_run_process_behind(
        own_postgres, project, tmp_path):
    """Kill the worker at several moments after it claimed (before, during and after the
    fork of the run): its run processes and fork servers exit within a
    second or two, no flow runs on without it, and a rescuing worker finishes every run
    that never started. Fails on the old code: a run launched just before the kill
    captured init as its parent and ran to COMPLETED."""
    deploy(project)
    home = os.environ["STOWFLOW_HOME"]
    markers = tmp_path / "markers"
    markers.mkdir()
    runs: list[str] = []
    for delay in KILL_DELAYS:
        batch = [create_flow_run("job/dep", {"marker": str(markers / f"{delay}-{i}"),
                                             "nap": 3.0}).id for i in range(2)]
        runs += batch
        worker = start_worker("--limit", "2")
        try:
            deadline = time.monotonic() + 60
            while get_flow_run(batch[0]).state == "SCHEDULED":
                assert time.monotonic() < deadline, "the worker never claimed"
                assert worker.poll() is None, stop(worker)
                time.sleep(0.01)
            time.sleep(delay)
            worker.kill()
            worker.wait(timeout=10)
            killed = time.monotonic()
            while run_processes(home):
                assert time.monotonic() - killed < 3.0, (
                    f"kill at +{delay}s: run processes outlived their worker")
                time.sleep(0.05)
        finally:
            stop(worker)
        assert list(markers.iterdir()) == [], f"kill at +{delay}s: a flow ran without worker"
    rescuer = start_worker("--limit", "4", "--crash-timeout", "1")
    try:
        wait_until_final(runs, 180, rescuer)
    finally:
        stop(rescuer)
    handed_back = 0
    for run_id in runs:
        run = get_flow_run(run_id)
        handed_back += bool(start_failures(run_id))
        if run.state == "CRASHED":  # its flow had begun under the dead worker: not run twice
            assert "heartbeating" in run.state_message and not start_failures(run_id)
        else:  # it never started there: the rescuer ran it
            assert run.state == "COMPLETED", (run.state, run.state_message)
    assert handed_back > 0  # some kills came before a run started: those were handed back
    assert not run_processes(home)


def test_pause_and_resume_keep_the_data(own_postgres):
    """The helpers under the tests above: a stopped server comes back with its data."""
    own_postgres.admin("CREATE DATABASE kept")
    pause_postgres(own_postgres)
    import psycopg

    with pytest.raises(psycopg.OperationalError):
        own_postgres.admin("SELECT 1")
    resume_postgres(own_postgres)
    own_postgres.admin("DROP DATABASE kept")  # fails if the database was lost

