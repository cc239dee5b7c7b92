"""Schedules from stowflow.yaml and deploy(), their CLI, and bad input at deploy time."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from stowflow.cli.app import main
from stowflow.db import DeploymentRecord, FlowRunRecord, ScheduleRecord, session
from stowflow.deployments.deploy import deploy_project
from stowflow.deployments.yamlfile import StowflowYamlError
from stowflow.runs import find_deployment
from stowflow.schedules import list_schedules
from stowflow.workers.pools import create_pool

FLOW = '''
from stowflow import flow

@flow(name="report")
def report(region: str, days: int = 1):
    return region * days
'''

YAML = """\
deployments:
- name: daily
  entrypoint: flows/report.py:report
  parameters: {region: eu}
  work_pool: {name: pool-a}
  schedules:
  - cron: "0 9 * * MON-FRI"
    timezone: Europe/Berlin
  - interval: 3600
    anchor_date: "2026-01-01T00:30:00"
    parameters: {days: 7}
    max_active_runs: 1
  - rrule: "FREQ=WEEKLY;BYDAY=SA;BYHOUR=6"
    active: false
"""


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "report.py").write_text(FLOW)
    monkeypatch.chdir(tmp_path)
    create_pool("pool-a")
    return tmp_path


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _deployments() -> int:
    with session() as db:
        return int(db.scalar(select(func.count()).select_from(DeploymentRecord)) or 0)


def test_schedules_from_yaml_are_stored_and_shown(project: Path, capsys) -> None:
    (project / "stowflow.yaml").write_text(YAML)
    deploy_project(project / "stowflow.yaml")
    dep = find_deployment("report/daily")
    cron, interval, rrule = list_schedules(dep.id)
    assert (cron.cron, cron.timezone, cron.active) == ("0 9 * * MON-FRI", "Europe/Berlin", True)
    assert interval.interval_s == 3600 and interval.parameters == {"days": 7}
    assert interval.max_active_runs == 1 and not rrule.active and rrule.next_fire_at is None
    # The naive anchor was read in UTC (the schedule's timezone) and stored as an instant.
    assert interval.anchor_date.replace(tzinfo=None).isoformat() == "2026-01-01T00:30:00"
    code, out, _ = run_cli(capsys, "deployment", "inspect", "report/daily")
    shown = json.loads(out[:out.rindex("}") + 1])
    assert code == 0 and [s.get("cron") for s in shown["schedules"]] == ["0 9 * * MON-FRI", None, None]
    assert shown["schedules"][1]["interval"] == 3600.0
    code, out, _ = run_cli(capsys, "deployment", "schedule", "ls", "report/daily")
    assert code == 0
    assert "cron '0 9 * * MON-FRI' (Europe/Berlin)" in out and "every 3600s" in out
    assert '{"days": 7}' in out


def test_next_run_is_the_schedules_next_time_not_the_schedulers_watermark(
        project: Path, capsys) -> None:
    # After a tick the watermark is an hour ahead (the horizon); the next run is not.
    from datetime import UTC, datetime

    from stowflow.schedules import tick

    (project / "stowflow.yaml").write_text(YAML.replace('"0 9 * * MON-FRI"', '"* * * * *"'))
    deploy_project(project / "stowflow.yaml")
    tick()
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    soon = [minute + timedelta(minutes=k) for k in (1, 2)]  # a minute may turn meanwhile
    code, out, _ = run_cli(capsys, "deployment", "schedule", "ls", "report/daily", "--json")
    shown = json.loads(out)
    assert code == 0 and datetime.fromisoformat(shown[0]["next_run_at"]) in soon
    assert shown[2]["next_run_at"] is None  # the paused rrule
    code, out, _ = run_cli(capsys, "deployment", "schedule", "ls", "report/daily")
    assert any(f"{moment:%Y-%m-%dT%H:%M:%S}" in out for moment in soon)
    code, out, _ = run_cli(capsys, "deployment", "inspect", "report/daily")
    view = json.loads(out[:out.rindex("}") + 1])["schedules"][0]
    assert datetime.fromisoformat(view["next_run_at"]) in soon


def test_redeploying_the_same_yaml_keeps_the_schedules(project: Path) -> None:
    (project / "stowflow.yaml").write_text(YAML)
    deploy_project(project / "stowflow.yaml")
    dep = find_deployment("report/daily")
    before = [s.id for s in list_schedules(dep.id)]
    deploy_project(project / "stowflow.yaml")
    assert [s.id for s in list_schedules(dep.id)] == before
    (project / "stowflow.yaml").write_text(YAML.replace("interval: 3600", "interval: 1800"))
    deploy_project(project / "stowflow.yaml")
    after = [s.id for s in list_schedules(dep.id)]
    assert after[0] == before[0] and after[2] == before[2] and after[1] != before[1]


@pytest.mark.parametrize(("change", "line", "field", "words"), [
    ('"0 9 * * MON-FRI"', 7, "deployments[0].schedules[0].cron", "invalid cron expression"),
    ('cron: "0 9 * * MON-FRI"', 7, "deployments[0].schedules[0].cron", "never fires"),
    ("Europe/Berlin", 8, "deployments[0].schedules[0].timezone", "unknown timezone"),
    ("interval: 3600", 9, "deployments[0].schedules[1].interval", "positive number"),
    ('"FREQ=WEEKLY;BYDAY=SA;BYHOUR=6"', 13, "deployments[0].schedules[2].rrule", "never fires"),
])
def test_a_bad_schedule_names_file_line_and_field_and_writes_nothing(
        project: Path, change: str, line: int, field: str, words: str) -> None:
    bad = {'"0 9 * * MON-FRI"': '"0 25 * * MON-FRI"', 'cron: "0 9 * * MON-FRI"': 'cron: "0 9 31 2 *"',
           "Europe/Berlin": "Europe/Atlantis",
           "interval: 3600": "interval: 0",
           '"FREQ=WEEKLY;BYDAY=SA;BYHOUR=6"': '"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31"'}[change]
    path = project / "stowflow.yaml"
    path.write_text(YAML.replace(change, bad))
    with pytest.raises(StowflowYamlError) as info:
        deploy_project(path)
    assert (info.value.file, info.value.line, info.value.field) == (str(path), line, field)
    assert words in str(info.value) and f"{path}:{line}" in str(info.value)
    assert _deployments() == 0


def test_a_schedule_without_a_required_parameter_is_refused_at_its_line(
        project: Path, capsys) -> None:
    path = project / "stowflow.yaml"
    path.write_text(YAML.replace("  parameters: {region: eu}\n", ""))
    code, _, err = run_cli(capsys, "deploy")
    assert code == 1 and "Traceback" not in err
    assert f"{path}:6" in err and "deployments[0].schedules[0]" in err and "'region'" in err
    assert _deployments() == 0
    # A schedule that gives the value itself is fine.
    path.write_text(YAML.replace("  parameters: {region: eu}\n", "").replace(
        'timezone: Europe/Berlin', 'timezone: Europe/Berlin\n    parameters: {region: us}')
        .replace("parameters: {days: 7}", "parameters: {days: 7, region: eu}")
        .replace("active: false", "active: false\n    parameters: {region: x}"))
    deploy_project(path)
    assert _deployments() == 1


def test_schedule_parameters_the_flow_refuses_are_refused_at_deploy_time(
        project: Path, capsys) -> None:
    # Runs made with them could never start: the same rule as 'deployment run'.
    from stowflow.errors import DeploymentError
    from stowflow.flows import Flow

    path = project / "stowflow.yaml"
    path.write_text(YAML.replace("parameters: {days: 7}", 'parameters: {days: "seven"}'))
    with pytest.raises(StowflowYamlError) as info:
        deploy_project(path)
    assert (info.value.line, info.value.field) == (
        11, "deployments[0].schedules[1].parameters.days")
    assert "is not of type 'integer'" in str(info.value)
    path.write_text(YAML.replace("parameters: {days: 7}", "parameters: {weeks: 7}"))
    code, _, err = run_cli(capsys, "deploy")
    assert code == 1 and f"{path}:11" in err and "'weeks' was unexpected" in err
    assert _deployments() == 0
    path.write_text(YAML.replace("    timezone: Europe/Berlin\n", "    timezone: Europe/Berlin\n"
                                 "    parameters: {region: '{{ $REGION }}'}\n"))
    deploy_project(path)  # a placeholder is only known at run time

    flow = Flow.from_source(source=str(project), entrypoint="flows/report.py:report")
    with pytest.raises(DeploymentError, match=r"invalid parameters: days: 'x' is not of type"):
        flow.deploy("py", work_pool_name="pool-a", parameters={"region": "eu"},
                    schedules=[{"interval": 60, "parameters": {"days": "x"}}])
    assert "py" not in _names()

    code, _, err = run_cli(capsys, "deployment", "schedule", "add", "report/daily",
                           "--interval", "60", "-p", "days=x", "-p", "colour=red")
    assert code == 1 and "'colour' was unexpected" in err and "days: 'x' is not of type" in err
    assert len(list_schedules(find_deployment("report/daily").id)) == 3

    path.write_text(YAML.replace(
        "  parameters: {region: eu}\n", "  parameters: {region: eu}\n"
        "  enforce_parameter_schema: false\n").replace("{days: 7}", "{days: seven}"))
    deploy_project(path)  # the deployment does not enforce its schema


def test_deploy_from_python_takes_cron_interval_rrule_and_schedules(project: Path) -> None:
    from stowflow.errors import DeploymentError
    from stowflow.flows import Flow

    flow = Flow.from_source(source=str(project), entrypoint="flows/report.py:report")
    flow.deploy("py", work_pool_name="pool-a", parameters={"region": "eu"},
                cron="*/5 * * * *", timezone="America/New_York", interval=900,
                schedules=[{"rrule": "FREQ=DAILY", "parameters": {"days": 2}}])
    kinds = [(s.cron, s.interval_s, s.rrule, s.timezone)
             for s in list_schedules(find_deployment("report/py").id)]
    assert kinds == [(None, None, "FREQ=DAILY", "UTC"),
                     ("*/5 * * * *", None, None, "America/New_York"),
                     (None, 900.0, None, "America/New_York")]
    flow.deploy("py", work_pool_name="pool-a", parameters={"region": "eu"})  # none given: kept
    assert len(list_schedules(find_deployment("report/py").id)) == 3
    with pytest.raises(DeploymentError, match="invalid cron expression"):
        flow.deploy("py2", work_pool_name="pool-a", parameters={"region": "eu"}, cron="every day")
    with pytest.raises(DeploymentError, match="'0 0 30 2 \\*' never fires"):
        flow.deploy("py2", work_pool_name="pool-a", parameters={"region": "eu"}, cron="0 0 30 2 *")
    with pytest.raises(DeploymentError, match=r"required parameter.*'region'"):
        flow.deploy("py3", work_pool_name="pool-a", interval=60)
    with pytest.raises(DeploymentError, match="unknown timezone"):
        flow.deploy("py4", work_pool_name="pool-a", parameters={"region": "eu"},
                    cron="* * * * *", timezone="Nowhere/Land")
    # timezone= is read for cron=/interval=/rrule= only: alone, or with schedules=, it
    # would be dropped without a word.
    for given in ({}, {"schedules": [{"cron": "0 9 * * *"}]}):
        with pytest.raises(DeploymentError, match="timezone= applies to cron=, interval= or"):
            flow.deploy("py5", work_pool_name="pool-a", parameters={"region": "eu"},
                        timezone="Europe/Berlin", **given)
    assert {d for d in _names()} == {"py"}


def _names() -> list[str]:
    with session() as db:
        return list(db.scalars(select(DeploymentRecord.name)))


def test_schedule_cli_add_pause_resume_delete(project: Path, capsys) -> None:
    (project / "stowflow.yaml").write_text(YAML)
    deploy_project(project / "stowflow.yaml")
    code, _, err = run_cli(capsys, "deployment", "schedule", "add", "report/daily",
                           "--cron", "15 * * * *", "--timezone", "Asia/Tokyo", "-p", "days=3")
    assert code == 0, err
    dep = find_deployment("report/daily")
    added = list_schedules(dep.id)[-1]
    assert (added.cron, added.timezone, added.parameters) == ("15 * * * *", "Asia/Tokyo", {"days": 3})
    assert run_cli(capsys, "deployment", "schedule", "pause", "report/daily", "4")[0] == 0
    assert not list_schedules(dep.id)[-1].active
    assert run_cli(capsys, "deployment", "schedule", "resume", "report/daily", added.id[:8])[0] == 0
    assert list_schedules(dep.id)[-1].active and list_schedules(dep.id)[-1].next_fire_at
    assert run_cli(capsys, "deployment", "schedule", "delete", "report/daily", added.id)[0] == 0
    assert len(list_schedules(dep.id)) == 3
    for args, words in [
        (("--cron", "99 * * * *"), "--cron: invalid cron expression"),
        (("--cron", "0 9 31 4 *"), "--cron: the cron '0 9 31 4 *' never fires"),
        (("--interval", "-1"), "--interval: interval must be a positive"),
        (("--cron", "* * * * *", "--timezone", "Moon/Base"), "--timezone: unknown timezone"),
        ((), "exactly one of"),
    ]:
        code, _, err = run_cli(capsys, "deployment", "schedule", "add", "report/daily", *args)
        assert code == 1 and words in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "deployment", "schedule", "pause", "report/daily", "9")
    assert code == 1 and "no schedule '9'" in err


def test_scheduler_once_and_paused_deployment_run(project: Path, capsys) -> None:
    (project / "stowflow.yaml").write_text(YAML.replace('"0 9 * * MON-FRI"', '"* * * * *"'))
    deploy_project(project / "stowflow.yaml")
    done = subprocess.run([sys.executable, "-m", "stowflow", "scheduler", "start", "--once",
                           "--horizon", "600"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "created" in done.stdout
    assert done.stderr == ""  # one summary, not the tick's log line as well
    with session() as db:
        created = db.scalar(select(func.count()).select_from(FlowRunRecord))
    assert created >= 10  # ten minutes of a minute cron (+ the hourly interval's, if due)
    assert run_cli(capsys, "deployment", "pause", "report/daily")[0] == 0
    with session() as db:
        assert db.scalar(select(func.count()).select_from(FlowRunRecord)) == 0
    code, _, err = run_cli(capsys, "deployment", "run", "report/daily")
    assert code == 1 and "paused" in err and "--force" in err
    assert run_cli(capsys, "deployment", "run", "report/daily", "--force")[0] == 0
    code, out, _ = run_cli(capsys, "scheduler", "start", "--once")
    assert "created 0 run(s)" in out
    assert run_cli(capsys, "deployment", "resume", "report/daily")[0] == 0
    code, out, _ = run_cli(capsys, "scheduler", "start", "--once", "--horizon", "120")
    assert "created 0 run(s)" not in out


def test_backfill_cli(project: Path, capsys) -> None:
    (project / "stowflow.yaml").write_text(YAML)
    deploy_project(project / "stowflow.yaml")
    code, out, err = run_cli(capsys, "deployment", "backfill", "report/daily",
                             "--from", "2025-01-06", "--to", "2025-01-10T23:59")
    # Mon-Fri at 09:00 Berlin: 5 runs; hourly interval from its 2026 anchor: none in 2025.
    assert code == 0 and "created 5 run(s)" in out, err
    code, _, err = run_cli(capsys, "deployment", "backfill", "report/daily",
                           "--from", "last week", "--to", "2025-01-10")
    assert code == 1 and "--from expects an ISO date" in err
    with session() as db:
        assert db.scalar(select(func.count()).select_from(ScheduleRecord)) == 3
    # A paused deployment gets no scheduled runs: a backfill says so, as 'deployment run'
    # does, unless forced.
    assert run_cli(capsys, "deployment", "pause", "report/daily")[0] == 0
    week = ("--from", "2025-02-03", "--to", "2025-02-07T23:59")
    code, _, err = run_cli(capsys, "deployment", "backfill", "report/daily", *week)
    assert code == 1 and "is paused" in err and "--force" in err
    with session() as db:
        assert db.scalar(select(func.count()).select_from(FlowRunRecord)) == 0  # pause: gone
    code, out, err = run_cli(capsys, "deployment", "backfill", "report/daily", *week, "--force")
    assert code == 0 and "created 5 run(s)" in out, err


def test_worker_start_runs_the_scheduler_unless_told_not_to(project: Path, capsys) -> None:
    from sqlalchemy import update
    from stowflow.db import utcnow

    (project / "stowflow.yaml").write_text(YAML)
    deploy_project(project / "stowflow.yaml")
    dep = find_deployment("report/daily")
    missed = list_schedules(dep.id)[1]  # hourly at :30 from its anchor
    with session() as db:  # as if no scheduler had run for three hours
        db.execute(update(ScheduleRecord).where(ScheduleRecord.id == missed.id).values(
            next_fire_at=utcnow().replace(minute=30, second=0, microsecond=0)
            - timedelta(hours=3)))
    code, out, err = run_cli(capsys, "worker", "start", "--pool", "pool-a", "--run-once",
                             "--no-scheduler")
    assert code == 0, err
    with session() as db:
        assert db.scalar(select(func.count()).select_from(FlowRunRecord)) == 0
    code, out, err = run_cli(capsys, "worker", "start", "--pool", "pool-a", "--run-once")
    assert code == 0, err
    assert "with scheduler" in out and "stopped after 1 run(s)" in out
    with session() as db:
        runs = list(db.scalars(select(FlowRunRecord).where(FlowRunRecord.state != "SCHEDULED")))
    assert [(r.state, r.parameters, r.schedule_id) for r in runs] == [
        ("COMPLETED", {"region": "eu", "days": 7}, missed.id)]


def test_deploy_from_python_creates_a_missing_pool_only_when_asked(project: Path) -> None:
    from stowflow.errors import DeploymentError, FlowError
    from stowflow.flows import Flow
    from stowflow.workers.pools import pool_exists, queue_exists

    flow = Flow.from_source(source=str(project), entrypoint="flows/report.py:report")
    with pytest.raises(DeploymentError, match="has no queue 'q1'"):
        flow.deploy("a", work_pool_name="pool-a", work_queue_name="q1",
                    parameters={"region": "eu"})
    with pytest.raises(DeploymentError, match="work pool 'ci' does not exist"):
        flow.deploy("a", work_pool_name="ci", parameters={"region": "eu"})
    # Bad input is refused before anything is created: no pool is left behind.
    for bad in ({"cron": "0 9 31 2 *"}, {"interval": 60, "parameters": {"days": "x"}},
                {"interval": 60, "parameters": {}, "anchor_date": "never"}):
        with pytest.raises(DeploymentError, match=r"invalid schedule|invalid parameters"):
            flow.deploy("a", work_pool_name="ci", work_queue_name="q1", create_missing=True,
                        parameters={"region": "eu"}, schedules=[bad])
    with pytest.raises(FlowError, match="parameter 'days'"):
        flow.deploy("a", work_pool_name="ci", create_missing=True, parameters={"days": "x"})
    assert not pool_exists("ci")
    flow.deploy("a", work_pool_name="ci", work_queue_name="q1", parameters={"region": "eu"},
                create_missing=True)
    assert pool_exists("ci") and queue_exists("ci", "q1")
