"""Work queues: claimed by priority, within queue, pool and deployment limits, on both
databases; the queue CLI and 'worker start --queue'."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from stowflow.cli.app import main
from stowflow.db import FlowRunRecord, session, utcnow
from stowflow.runs import State, create_flow_run, set_state
from stowflow.workers.claim import claim_runs
from stowflow.workers.pools import (
    create_pool,
    create_queue,
    get_pool,
    pool_queues,
    update_queue,
)


def _run(dep, minutes_ago: int):
    return create_flow_run(dep, scheduled_at=utcnow() - timedelta(minutes=minutes_ago))


def test_higher_priority_queue_is_served_first(stowflow_database, make_deployment):
    create_pool("pool")
    create_queue("pool", "urgent", priority=1)
    create_queue("pool", "bulk", priority=5)
    bulk = make_deployment("bulk", work_queue_name="bulk")
    urgent = make_deployment("urgent", work_queue_name="urgent")
    plain = make_deployment("plain")  # no queue: 'default', priority 1 too
    old_bulk = [_run(bulk, 60 - i) for i in range(3)]
    new_urgent = [_run(urgent, 1), _run(urgent, 0)]
    default = _run(plain, 30)
    first = claim_runs("w1", 3, pool="pool")
    # default and urgent share priority 1 (ties by name: 'default' < 'urgent').
    assert [r.id for r in first] == sorted([default.id, *[r.id for r in new_urgent]],
                                           key=[default.id, *[r.id for r in new_urgent]].index)
    assert [r.id for r in claim_runs("w1", 5, pool="pool")] == [r.id for r in old_bulk]


def test_queue_concurrency_limit_does_not_starve_other_queues(stowflow_database, make_deployment):
    create_pool("pool")
    create_queue("pool", "single", priority=1, concurrency_limit=1)
    create_queue("pool", "rest", priority=2)
    single = make_deployment("single", work_queue_name="single")
    rest = make_deployment("rest", work_queue_name="rest")
    singles = [_run(single, 10 - i) for i in range(3)]
    others = [_run(rest, 5 - i) for i in range(2)]
    claimed = claim_runs("w1", 10, pool="pool")
    assert [r.id for r in claimed] == [singles[0].id] + [r.id for r in others]
    assert claim_runs("w2", 10, pool="pool") == []
    set_state(singles[0].id, State.RUNNING)
    set_state(singles[0].id, State.COMPLETED)
    assert [r.id for r in claim_runs("w2", 10, pool="pool")] == [singles[1].id]


def test_queue_limits_combine_with_pool_and_deployment_limits(stowflow_database,
                                                             make_deployment):
    create_pool("pool", concurrency_limit=3)
    create_queue("pool", "q", priority=1, concurrency_limit=2)
    update_queue("pool", "default", priority=2)
    capped = make_deployment("capped", work_queue_name="q", concurrency_limit=1)
    free = make_deployment("free", work_queue_name="q")
    other = make_deployment("other")
    for i in range(3):
        _run(capped, 30 - i)
        _run(free, 20 - i)
        _run(other, 10 - i)
    claimed = claim_runs("w1", 10, pool="pool")
    by_dep = Counter(r.deployment_id for r in claimed)
    assert len(claimed) == 3  # the pool's limit
    assert by_dep[capped.id] == 1 and by_dep[free.id] == 1 and by_dep[other.id] == 1


def test_a_worker_for_some_queues_takes_only_theirs(stowflow_database, make_deployment):
    create_pool("pool")
    create_queue("pool", "a")
    create_queue("pool", "b")
    in_a = _run(make_deployment("a", work_queue_name="a"), 5)
    in_b = _run(make_deployment("b", work_queue_name="b"), 6)
    stray = _run(make_deployment("s", work_queue_name="gone"), 7)
    assert [r.id for r in claim_runs("w1", 10, pool="pool", queues=["a"])] == [in_a.id]
    assert [r.id for r in claim_runs("w1", 10, pool="pool", queues=["a", "default"])] == []
    # An unrestricted worker takes the rest; a queue the pool lacks comes last.
    assert [r.id for r in claim_runs("w2", 10, pool="pool")] == [in_b.id, stray.id]


def test_concurrent_claimers_never_exceed_a_queue_limit(stowflow_database, make_deployment):
    create_pool("pool")
    create_queue("pool", "q", concurrency_limit=3)
    dep = make_deployment(work_queue_name="q")
    for i in range(20):
        _run(dep, i)
    results: list[int] = []

    def claim(n: int) -> None:
        results.append(len(claim_runs(f"w{n}", 2, pool="pool")))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 3
    with session() as db:
        assert db.scalar(select(func.count()).select_from(FlowRunRecord)
                         .where(FlowRunRecord.state == "PENDING")) == 3


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_queue_cli(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    create_pool("pool")
    code, out, err = run_cli(capsys, "work-pool", "queue", "create", "pool", "fast",
                             "--priority", "1", "--concurrency-limit", "2")
    assert code == 0 and "worker start --pool pool --queue fast" in out, err
    assert run_cli(capsys, "work-pool", "queue", "create", "pool", "slow", "--priority", "9")[0] == 0
    code, out, _ = run_cli(capsys, "work-pool", "queue", "ls", "pool")
    lines = [line for line in out.splitlines() if "fast" in line or "slow" in line or "default" in line]
    assert ["default" in lines[0], "fast" in lines[1], "slow" in lines[2]] == [True, True, True]
    assert run_cli(capsys, "work-pool", "queue", "update", "pool", "slow", "--priority", "0")[0] == 1
    assert run_cli(capsys, "work-pool", "queue", "update", "pool", "fast", "--no-limit")[0] == 0
    queues = {q.name: q for q in pool_queues(get_pool("pool"))}
    assert queues["fast"].concurrency_limit is None and queues["slow"].priority == 9
    for args, words in [
        (("create", "pool", "fast"), "already has a queue 'fast'"),
        (("create", "pool", "x", "--priority", "-1"), "invalid queue priority"),
        (("create", "pool", "x", "--concurrency-limit", "0"), "invalid queue concurrency"),
        (("create", "nopool", "x"), "no work pool 'nopool'"),
        (("delete", "pool", "default"), "default queue cannot be deleted"),
        (("delete", "pool", "nope"), "has no queue 'nope'"),
    ]:
        code, _, err = run_cli(capsys, "work-pool", "queue", *args)
        assert code == 1 and words in err and "Traceback" not in err, (args, err)
    assert run_cli(capsys, "work-pool", "queue", "delete", "pool", "slow")[0] == 0
    code, _, err = run_cli(capsys, "worker", "start", "--pool", "pool", "--queue", "slow",
                           "--run-once", "--no-scheduler")
    assert code == 1 and "has no queue 'slow'" in err
    code, out, err = run_cli(capsys, "worker", "start", "--pool", "pool", "--queue", "fast",
                             "--run-once", "--no-scheduler")
    assert code == 0 and "queue(s) fast" in out, err


@pytest.mark.parametrize("priority", [True, 1.5])
def test_queue_priority_must_be_a_whole_number(priority):
    from stowflow.errors import ConfigError

    create_pool("pool")
    with pytest.raises(ConfigError, match="invalid queue priority"):
        create_queue("pool", "q", priority=priority)  # type: ignore[arg-type]


def test_pool_overview_matches_the_per_pool_functions(stowflow_database, make_deployment):
    from stowflow.workers.pools import pool_overview, run_counts
    from stowflow.workers.presence import beat, list_workers

    create_pool("pool")
    create_pool("other")
    create_pool("empty")
    create_queue("pool", "bulk", priority=5)
    create_queue("pool", "urgent", priority=1)
    dep = make_deployment("d")  # on "pool"
    for minutes in range(3):
        _run(dep, minutes)
    assert len(claim_runs("w1", 1, pool="pool")) == 1
    beat("w1", "pool")
    beat("w2", "pool")
    beat("w3", "other")
    overview = {o.pool.name: o for o in pool_overview()}
    assert list(overview) == ["empty", "other", "pool"]
    for name, item in overview.items():
        assert [q.name for q in item.queues] == [q.name for q in pool_queues(get_pool(name))]
        assert item.counts == run_counts(name)
        assert [w.name for w in item.workers] == [w.name for w in list_workers(name)]
    assert overview["pool"].counts == {"SCHEDULED": 2, "PENDING": 1}
    assert [q.name for q in overview["pool"].queues] == ["default", "urgent", "bulk"]
    assert {w.name for w in overview["pool"].workers} == {"w1", "w2"}
    assert overview["empty"].counts == {} and overview["empty"].workers == []


def test_a_worker_for_a_missing_pool_says_it_created_it_and_names_close_ones(capsys, monkeypatch):
    # Before, 'worker start --pool prdo' created the pool without a word: a typo gave an
    # idle worker polling an empty pool.
    monkeypatch.setenv("COLUMNS", "200")
    create_pool("prod")
    code, out, err = run_cli(capsys, "worker", "start", "--pool", "prdo", "--run-once",
                             "--no-scheduler")
    assert code == 0, err
    assert "Work pool 'prdo' did not exist: created it (type process). Did you mean 'prod'?" in out
    code, out, _ = run_cli(capsys, "worker", "start", "--pool", "prdo", "--run-once",
                           "--no-scheduler")
    assert code == 0 and "did not exist" not in out  # it exists now
    code, out, _ = run_cli(capsys, "worker", "start", "--pool", "zzz-new", "--run-once",
                           "--no-scheduler")
    assert "created it (type process). Deployments name their pool in work_pool.name." in out
