"""A deployment's schedules (shown, paused, resumed), pausing it, and deleting it — on the
page (confirmation step, CSRF) and over the API — against the real server."""

from __future__ import annotations

import re
import uuid
from datetime import UTC

import httpx
import pytest
from stowflow.db import utcnow
from stowflow.deployments.records import upsert_deployment
from stowflow.errors import NotFoundError
from stowflow.runs import (
    State,
    create_flow_run,
    find_deployment,
    get_flow_run,
    list_flow_runs,
    set_state,
)
from stowflow.schedules import ScheduleSpec, list_schedules, tick
from stowflow.workers.pools import create_pool

HOSTILE = "<b>x</b>"


def _csrf(http: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', http.get(path).text)
    assert found
    return found.group(1)


def _deployment() -> tuple[str, str]:
    """A deployment with two schedules and the runs the scheduler made for them."""
    create_pool("sched-pool", exist_ok=True)
    name = f"dep-{uuid.uuid4().hex[:8]}"
    dep_id = upsert_deployment(
        name=name, flow_name="sched-flow", entrypoint="flows/f.py:f",
        work_pool_name="sched-pool",
        schedules=[ScheduleSpec(cron="0 9 * * *", timezone="Europe/Berlin"),
                   ScheduleSpec(interval=3600, parameters={"who": HOSTILE})])
    tick()
    return dep_id, f"sched-flow/{name}"


def _future_runs(dep_id: str) -> int:
    """The scheduled runs not yet due (those pausing deletes)."""
    now = utcnow()
    return len([r for r in list_flow_runs(deployment_id=dep_id, limit=1000)
                if r.state == "SCHEDULED" and (r.scheduled_at if r.scheduled_at.tzinfo
                                               else r.scheduled_at.replace(tzinfo=UTC)) > now])


def test_the_page_shows_schedules_and_pauses_them(http: httpx.Client, on_server: object) -> None:
    dep_id, ref = _deployment()
    assert _future_runs(dep_id) > 0
    listed = http.get("/deployments")
    assert listed.status_code == 200 and ref.split("/")[1] in listed.text
    page = http.get(f"/deployments/{dep_id}")
    assert page.status_code == 200
    table = page.text[page.text.index('id="deployment-schedules"'):]
    assert "0 9 * * *" in table and "(Europe/Berlin)" in table and "every 3600s" in table
    assert HOSTILE not in page.text
    assert '{"who": "\\u003cb\\u003ex\\u003c/b\\u003e"}' in table  # tojson escapes <
    first = list_schedules(dep_id)[0]
    # "next run" is the schedule's next time from now, not the scheduler's watermark
    # (after a tick, the first time past the horizon: an hour or more ahead)
    from stowflow.schedules import schedule_view

    hourly = list_schedules(dep_id)[1]
    view = schedule_view(hourly)
    assert view["next_run_at"] != view["next_fire_at"]
    row = table[table.index("every 3600s"):].split("</tr>", 1)[0]
    assert view["next_run_at"] in row and view["next_fire_at"] not in row
    token = _csrf(http, f"/deployments/{dep_id}")
    forged = http.post(f"/deployments/{dep_id}/schedules/{first.id}/pause")
    assert forged.status_code == 403 and list_schedules(dep_id)[0].active

    paused = http.post(f"/deployments/{dep_id}/schedules/{first.id}/pause",
                       data={"csrf_token": token})
    assert paused.status_code == 303
    assert [s.active for s in list_schedules(dep_id)] == [False, True]
    assert f"/schedules/{first.id}/resume" in http.get(f"/deployments/{dep_id}").text
    assert http.post(f"/deployments/{dep_id}/schedules/{first.id}/resume",
                     data={"csrf_token": token}).status_code == 303
    assert [s.active for s in list_schedules(dep_id)] == [True, True]

    assert http.post(f"/deployments/{dep_id}/pause", data={"csrf_token": token}).status_code == 303
    assert find_deployment(dep_id).paused and _future_runs(dep_id) == 0
    assert 'id="paused-notice"' in http.get(f"/deployments/{dep_id}").text
    assert http.post(f"/deployments/{dep_id}/resume",
                     data={"csrf_token": token}).status_code == 303
    assert not find_deployment(dep_id).paused


def test_delete_from_the_page_asks_first(http: httpx.Client, on_server: object) -> None:
    dep_id, _ = _deployment()
    manual = create_flow_run(dep_id, {})
    for state in (State.PENDING, State.RUNNING, State.COMPLETED):  # a past run: it ran
        set_state(manual.id, state)
    waiting = create_flow_run(dep_id, {})  # never started: claimed later, it would fail
    confirm = http.get(f"/deployments/{dep_id}/delete")
    assert confirm.status_code == 200 and 'id="confirm-delete"' in confirm.text
    find_deployment(dep_id)  # showing the confirmation deleted nothing
    token = _csrf(http, f"/deployments/{dep_id}/delete")
    assert http.post(f"/deployments/{dep_id}/delete").status_code == 403
    find_deployment(dep_id)
    done = http.post(f"/deployments/{dep_id}/delete", data={"csrf_token": token})
    assert done.status_code == 303 and done.headers["location"] == "/deployments"
    with pytest.raises(NotFoundError):
        find_deployment(dep_id)
    assert get_flow_run(manual.id).id == manual.id  # its past runs are kept
    with pytest.raises(NotFoundError):
        get_flow_run(waiting.id)
    assert list_schedules(dep_id) == []
    assert http.get(f"/deployments/{dep_id}").status_code == 404


def test_the_api_shows_pauses_and_deletes(http: httpx.Client, on_server: object) -> None:
    dep_id, ref = _deployment()
    shown = http.get(f"/api/deployments/{ref}").json()
    assert [s["description"] for s in shown["schedules"]] == [
        "cron '0 9 * * *' (Europe/Berlin)", "every 3600s"]
    assert shown["schedules"][1]["parameters"] == {"who": HOSTILE}
    paused = http.post(f"/api/deployments/{ref}/schedules/2/pause", json={})
    assert paused.status_code == 200 and paused.json()["active"] is False
    assert [s.active for s in list_schedules(dep_id)] == [True, False]
    assert http.post(f"/api/deployments/{ref}/schedules/2/resume", json={}).json()["active"] is True
    assert http.post(f"/api/deployments/{ref}/schedules/9/pause", json={}).status_code == 404
    assert http.post(f"/api/deployments/{ref}/pause", json={}).json()["paused"] is True
    assert http.post(f"/api/deployments/{ref}/resume", json={}).json()["paused"] is False
    forged = http.delete(f"/api/deployments/{ref}", headers={"Origin": "http://evil.example"})
    assert forged.status_code == 403
    find_deployment(dep_id)
    assert http.delete(f"/api/deployments/{ref}").status_code == 204
    assert http.get(f"/api/deployments/{ref}").status_code == 404
    assert http.delete(f"/api/deployments/{ref}").status_code == 404
    paths = http.get("/api/openapi.json").json()["paths"]
    assert "delete" in paths["/api/deployments/{ref}"]
    assert "post" in paths["/api/deployments/{ref}/schedules/{schedule}/pause"]


def test_the_deployment_list_pages(http: httpx.Client, on_server: object) -> None:
    from stowflow.server.pages.deployments import PAGE_SIZE

    prefix = f"pg-{uuid.uuid4().hex[:6]}"
    for i in range(PAGE_SIZE + 3):
        upsert_deployment(name=f"{prefix}-{i:03d}", flow_name="aaa-paging",
                          entrypoint="flows/f.py:f")
    first, second = http.get("/deployments"), http.get("/deployments?page=2")
    shown = [re.findall(rf"aaa-paging/({prefix}-\d+)", page.text) for page in (first, second)]
    assert len(shown[0]) == PAGE_SIZE and "?page=2" in first.text
    assert shown[0] + shown[1][:3] == [f"{prefix}-{i:03d}" for i in range(PAGE_SIZE + 3)]
    assert "?page=1" in second.text
    assert "No deployments on this page" in http.get("/deployments?page=999").text


def test_a_paused_deployment_runs_only_when_forced(http: httpx.Client, on_server: object) -> None:
    # The rule of 'deployment run' (paused unless --force), on the page and over the API.
    dep_id, ref = _deployment()
    token = _csrf(http, f"/deployments/{dep_id}")
    http.post(f"/deployments/{dep_id}/pause", data={"csrf_token": token})
    form = http.get(f"/deployments/{dep_id}/run")
    assert 'id="paused-notice"' in form.text and 'name="__force__"' in form.text
    refused = http.post(f"/deployments/{dep_id}/run", data={"csrf_token": token})
    assert refused.status_code == 409
    assert f"deployment {ref} is paused" in refused.text and "run it anyway" in refused.text
    api = http.post("/api/flow-runs", json={"deployment": ref})
    assert api.status_code == 409 and api.json()["error"] == f"deployment {ref} is paused"
    assert '"force": true' in api.json()["hint"]
    assert list_flow_runs(deployment_id=dep_id, limit=10) == []
    forced = http.post(f"/deployments/{dep_id}/run", data={"csrf_token": token,
                                                           "__force__": "on"})
    assert forced.status_code == 303
    assert http.post("/api/flow-runs", json={"deployment": ref, "force": True}).status_code == 201
    assert len(list_flow_runs(deployment_id=dep_id, limit=10)) == 2
    http.post(f"/deployments/{dep_id}/resume", data={"csrf_token": token})
    assert 'id="paused-notice"' not in http.get(f"/deployments/{dep_id}/run").text
    assert http.post("/api/flow-runs", json={"deployment": ref}).status_code == 201


def test_late_runs_are_shown_late_on_the_pages_and_in_the_api(http: httpx.Client,
                                                              on_server: object) -> None:
    # LATE is derived (runs.shown_state), as 'flow-run ls' shows it; stored: SCHEDULED.
    from datetime import timedelta

    dep_id, _ = _deployment()
    late = create_flow_run(dep_id, {}, scheduled_at=utcnow() - timedelta(minutes=5))
    later = create_flow_run(dep_id, {}, scheduled_at=utcnow() + timedelta(hours=5))
    listed = http.get("/flow-runs", params={"state": "LATE", "deployment": dep_id})
    assert '<option value="LATE" selected>' in listed.text
    rows = re.findall(r'href="/flow-runs/([0-9a-f-]+)">.*?class="state state-(\w+)"',
                      listed.text, re.S)
    assert rows == [(late.id, "LATE")]
    assert re.search(r'id="run-state" class="state state-LATE">LATE<',
                     http.get(f"/flow-runs/{late.id}").text)
    assert 'state-SCHEDULED">SCHEDULED<' in http.get(f"/flow-runs/{later.id}").text
    poll = http.get(f"/flow-runs/{late.id}/logs").text
    assert 'class="state state-LATE">LATE<' in poll
    assert 'state-LATE">LATE<' in http.get(f"/deployments/{dep_id}").text
    shown = http.get(f"/api/flow-runs/{late.id}").json()
    assert (shown["state"], shown["late"]) == ("SCHEDULED", True)
    assert http.get(f"/api/flow-runs/{later.id}").json()["late"] is False


def test_a_retry_links_to_the_run_it_retries(http: httpx.Client, on_server: object) -> None:
    from stowflow.runs import State, retry_flow_run, set_state

    dep_id, _ = _deployment()
    first = create_flow_run(dep_id, {})
    set_state(first.id, State.CANCELLED)
    again = retry_flow_run(first.id, latest_code=True)
    page = http.get(f"/flow-runs/{again.id}").text
    link = re.search(r'id="retry-of"><a href="/flow-runs/([0-9a-f-]+)">', page)
    assert link and link.group(1) == first.id and "on the deployment's latest code" in page
    assert 'id="retry-of"' not in http.get(f"/flow-runs/{first.id}").text
    shown = http.get(f"/api/flow-runs/{again.id}").json()
    assert (shown["retry_of"], shown["pinned_code_version"]) == (first.id, None)


def test_the_run_list_filters_by_a_deployment_name_as_the_cli_does(
        http: httpx.Client, on_server: object) -> None:
    dep_id, ref = _deployment()
    run = create_flow_run(dep_id, {})
    by_name = http.get("/flow-runs", params={"deployment": ref})
    assert f'href="/flow-runs/{run.id}"' in by_name.text
    assert f'<option value="{dep_id}" selected>' in by_name.text
    unknown = http.get("/flow-runs", params={"deployment": "no-such/deployment"})
    assert unknown.status_code == 404 and "no deployment" in unknown.text


def test_the_page_shows_every_version_and_the_code_each_run_ran(http: httpx.Client,
                                                                on_server: object) -> None:
    from stowflow.runs import update_run

    create_pool("versions-pool", exist_ok=True)
    name = f"ver-{uuid.uuid4().hex[:8]}"
    dep_id = upsert_deployment(name=name, flow_name="ver-flow", entrypoint="flows/a.py:a")
    first = create_flow_run(dep_id)
    update_run(first.id, code_version="1111111aaaa")
    upsert_deployment(name=name, flow_name="ver-flow", entrypoint="flows/b.py:b",
                      work_pool_name="versions-pool")
    second = create_flow_run(dep_id)
    update_run(second.id, code_version="2222222bbbb")
    page = http.get(f"/deployments/{dep_id}").text
    versions = page.split('id="deployment-versions"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(\d+)</td><td>[^<]*</td>\s*<td class=\"mono\">([^<]*)</td>"
                      r"<td>([^<]*)</td></tr>", versions)
    assert rows == [("2", "flows/b.py:b", "versions-pool"), ("1", "flows/a.py:a", "-")]
    runs = page.split('id="deployment-runs"', 1)[1].split("</table>", 1)[0]
    assert runs.index(second.id) < runs.index(first.id)  # newest first
    for run, code in ((first, "1111111aaaa"), (second, "2222222bbbb")):
        row = runs.split(run.id, 1)[1].split("</tr>", 1)[0]
        assert f'<td class="mono">{code}</td>' in row


def test_literal_credentials_in_pull_steps_and_job_variables_are_never_shown(
        http: httpx.Client, on_server: object) -> None:
    # A pull step may take a literal token (git_clone's access_token is documented as "a
    # string"); the page and the API show that a value is there, never the value, and keep
    # placeholders and every other argument readable.
    from stowflow.testing import assert_no_secret

    token, key, env_secret = ("ghp_plantedLiteralPullToken0123", "planted/literal+S3key",
                              "planted-env-secret-9c1e")
    name = f"lit-{uuid.uuid4().hex[:8]}"
    dep_id = upsert_deployment(
        name=name, flow_name="lit-flow", entrypoint="flows/f.py:f",
        pull_steps=[
            {"stowflow.deployments.steps.git_clone": {
                "repository": "https://github.com/org/repo.git", "access_token": token}},
            {"stowflow_aws.deployments.steps.pull_from_s3": {
                "bucket": "code-bucket", "folder": "f", "credentials": {
                    "aws_access_key_id": "AKIAPLAIN", "aws_secret_access_key": key}}},
            {"stowflow.deployments.steps.git_clone": {
                "repository": "https://github.com/org/other.git",
                "access_token": "{{ stowflow.blocks.secret.gh-token }}"}}],
        job_variables={"env": {"GITHUB_TOKEN": env_secret, "LOG_LEVEL": "debug"}})
    page = http.get(f"/deployments/{dep_id}").text
    api = http.get(f"/api/deployments/{dep_id}")
    listed = http.get("/api/deployments").text
    assert_no_secret(token, page, api.text, listed)
    assert_no_secret(key, page, api.text, listed)
    assert_no_secret(env_secret, api.text, listed)
    steps = api.json()["pull_steps"]
    assert steps[0]["stowflow.deployments.steps.git_clone"] == {
        "repository": "https://github.com/org/repo.git", "access_token": "********"}
    assert steps[1]["stowflow_aws.deployments.steps.pull_from_s3"]["credentials"] == {
        "aws_access_key_id": "AKIAPLAIN", "aws_secret_access_key": "********"}
    assert steps[2]["stowflow.deployments.steps.git_clone"]["access_token"] == \
        "{{ stowflow.blocks.secret.gh-token }}"
    assert api.json()["job_variables"] == {"env": {"GITHUB_TOKEN": "********",
                                                   "LOG_LEVEL": "debug"}}
    assert "{{ stowflow.blocks.secret.gh-token }}" in page and "AKIAPLAIN" in page


def test_a_run_page_names_its_deployment(http: httpx.Client, on_server: object) -> None:
    dep_id, ref = _deployment()
    run = create_flow_run(dep_id, {})
    row = http.get(f"/flow-runs/{run.id}").text.split("<th>deployment</th>", 1)[1]
    row = row.split("</tr>", 1)[0]
    assert f'<a href="/deployments/{dep_id}">{ref}</a> (version 1)' in row
    for state in (State.PENDING, State.RUNNING, State.COMPLETED):  # a past run: it ran
        set_state(run.id, state)
    http.delete(f"/api/deployments/{dep_id}")  # its past runs are kept, without it
    row = http.get(f"/flow-runs/{run.id}").text.split("<th>deployment</th>", 1)[1]
    assert row.split("</tr>", 1)[0] == "<td>-</td>"


def test_a_secret_parameter_is_never_shown(http: httpx.Client, on_server: object) -> None:
    # A flow parameter typed SecretStr (schema: writeOnly, format password) is a password
    # input on the Run form; its value is not shown back on any page or API answer.
    from stowflow.testing import assert_no_secret

    default, given = "planted-default-param-secret", "planted-given-param-secret"
    schema = {"type": "object", "required": ["api_key"], "properties": {
        "api_key": {"type": "string", "format": "password", "writeOnly": True},
        "n": {"type": "integer", "default": 1}}}
    dep_id = upsert_deployment(name=f"sp-{uuid.uuid4().hex[:8]}", flow_name="secret-param",
                               entrypoint="flows/f.py:f", parameter_schema=schema,
                               parameters={"api_key": default},
                               schedules=[ScheduleSpec(interval=3600,
                                                       parameters={"api_key": default})])
    made = http.post("/api/flow-runs", json={"deployment": dep_id,
                                             "parameters": {"api_key": given, "n": 7}})
    assert made.status_code == 201, made.text
    run_id = made.json()["id"]
    answers = [made.text, http.get(f"/api/flow-runs/{run_id}").text,
               http.get("/api/flow-runs", params={"deployment": dep_id}).text,
               http.get(f"/flow-runs/{run_id}").text, http.get(f"/deployments/{dep_id}").text,
               http.get(f"/deployments/{dep_id}/run").text, http.get(f"/api/deployments/{dep_id}").text]
    for secret in (default, given):
        assert_no_secret(secret, *answers)
    assert http.get(f"/api/flow-runs/{run_id}").json()["parameters"] == {
        "api_key": "********", "n": 7}
    assert get_flow_run(run_id).parameters["api_key"] == given  # stored for the run
