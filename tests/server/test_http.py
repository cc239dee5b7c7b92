"""The server over plain HTTP: health, OpenAPI, headers, the bind rule, CSRF, masking."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
from stowflow.blocks import Secret
from stowflow.testing import assert_no_secret

PLANTED = "planted-http-secret-8c1f2e"


def _csrf(client: httpx.Client, path: str = "/blocks/new/secret") -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def test_health_and_openapi(http: httpx.Client) -> None:
    health = http.get("/api/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["database"] == "sqlite"
    spec = http.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/health", "/api/blocks", "/api/blocks/{slug}/{name}"} <= set(spec["paths"])
    assert not any(path.startswith("/blocks") for path in spec["paths"])  # pages are not API


def test_every_response_carries_the_security_headers(http: httpx.Client) -> None:
    for path in ("/blocks", "/static/style.css", "/api/health", "/no-such-page",
                 "/api/no-such-route"):
        response = http.get(path)
        csp = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "default-src 'none'" in csp, path
        assert "unsafe-inline" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_a_foreign_host_header_is_refused(http: httpx.Client) -> None:
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 must not reach the UI
    assert http.get("/blocks", headers={"Host": "evil.example:4300"}).status_code == 400
    assert http.get("/blocks", headers={"Host": "localhost"}).status_code == 200


def test_state_changes_need_the_csrf_token(http: httpx.Client, on_server: object) -> None:
    without = http.post("/blocks/new/secret", data={"__name__": "no-csrf", "value": "v1"})
    assert without.status_code == 403
    wrong = http.post("/blocks/new/secret",
                      data={"__name__": "no-csrf", "value": "v1", "csrf_token": "forged"})
    assert wrong.status_code == 403
    token = _csrf(http)
    made = http.post("/blocks/new/secret",
                     data={"__name__": "with-csrf", "value": "v1", "csrf_token": token})
    assert made.status_code == 303, made.text[:300]
    assert made.headers["location"] == "/blocks/secret/with-csrf"
    assert Secret.load("with-csrf").get() == "v1"


def test_api_shows_blocks_masked(http: httpx.Client, on_server: object) -> None:
    Secret(value=PLANTED).save("api-planted")
    listed = http.get("/api/blocks", params={"type": "secret", "q": "API-PLAN"})
    assert [b["name"] for b in listed.json()] == ["api-planted"]
    shown = http.get("/api/blocks/secret/api-planted")
    assert shown.json()["data"] == {"value": "********"}
    page = http.get("/blocks/secret/api-planted")
    assert "********" in page.text
    edit = http.get("/blocks/secret/api-planted/edit")
    assert "a value is saved" in edit.text
    missing = http.get("/api/blocks/secret/nope")
    assert missing.status_code == 404 and "no 'secret' block named 'nope'" in missing.json()["error"]
    types = http.get("/api/block-types").json()
    assert {"secret", "github-credentials", "aws-credentials"} <= {t["slug"] for t in types}
    assert_no_secret(PLANTED, listed.text, shown.text, page.text, edit.text,
                     http.get("/api/block-types").text, on_server.log())  # type: ignore[attr-defined]


def test_every_installed_block_type_has_a_form(http: httpx.Client) -> None:
    types = http.get("/api/block-types").json()
    assert len(types) >= 10  # core + the six provider plugins of the monorepo
    for block_type in types:
        form = http.get(f"/blocks/new/{block_type['slug']}")
        assert form.status_code == 200, block_type["slug"]
        for field in block_type["secret_fields"]:
            assert f'type="password" id="f-{field}"' in form.text, (block_type["slug"], field)


def test_request_validation_errors_do_not_echo_the_input(http: httpx.Client) -> None:
    response = http.get("/api/blocks", params={"type": ["a", "b"]})  # fine: last wins
    assert response.status_code == 200
    bad = http.get("/api/flow-runs", params={"limit": PLANTED})
    assert bad.status_code in (404, 422)
    assert PLANTED not in bad.text


def test_numbers_too_large_for_the_database_are_a_clear_422(http: httpx.Client,
                                                            on_server: object) -> None:
    # A page, offset or log line id the database cannot hold (SQLite's integers are 64-bit)
    # is refused with the parameter's name, on the pages and in the API, not a 500.
    from stowflow.deployments.records import upsert_deployment
    from stowflow.runs import create_flow_run

    run = create_flow_run(upsert_deployment(name="big-numbers", flow_name="big-flow",
                                            entrypoint="flows/f.py:f"), {})
    huge = str(10**20)
    for path, name in [("/flow-runs", "page"), ("/deployments", "page"),
                       (f"/flow-runs/{run.id}", "before"),
                       (f"/flow-runs/{run.id}/logs", "after"),
                       ("/api/flow-runs", "offset"), (f"/api/flow-runs/{run.id}/logs", "after")]:
        response = http.get(path, params={name: huge})
        assert response.status_code == 422, (path, response.status_code)
        assert f"query.{name}" in response.text and "Traceback" not in response.text
        assert http.get(path, params={name: "1"}).status_code == 200, path


def test_a_key_that_is_not_json_is_refused_beside_its_input(http: httpx.Client) -> None:
    # GCP Credentials checks its key's JSON: the problem is the field's, so the form shows it
    # there (not at the top of the form), without quoting the key.
    token = _csrf(http, "/blocks/new/gcp-credentials")
    answer = http.post("/blocks/new/gcp-credentials", data={
        "csrf_token": token, "__name__": "bad-key", "service_account_info": f"{{{PLANTED}"})
    assert answer.status_code == 422
    field = answer.text.split('data-field="service_account_info"', 1)[1].split("</div>", 1)[0]
    assert "not valid JSON" in field
    assert_no_secret(PLANTED, answer.text)


def test_a_taken_block_name_says_what_to_do_on_the_page(http: httpx.Client,
                                                         on_server: object) -> None:
    # The store's hint is the CLI's and Python's (--overwrite, overwrite=True); the form
    # says what to do in the UI, beside the name, with a link to the block that has it.
    Secret(value=PLANTED).save("taken-name", overwrite=True)
    token = _csrf(http)
    answer = http.post("/blocks/new/secret", data={"csrf_token": token,
                                                   "__name__": "taken-name", "value": "x1x1"})
    assert answer.status_code == 422
    field = answer.text.split('data-field="__name__"', 1)[1].split("</div>", 1)[0]
    assert "already exists" in field and "overwrite" not in field
    assert 'href="/blocks/secret/taken-name/edit"' in field


def test_a_database_it_cannot_reach_is_an_error_before_any_banner(stowflow_home: object) -> None:
    # "stowflow server on http://..." is printed once the server can serve: not before a
    # database error that ends it.
    from stowflow.testing.servers._process import free_port

    result = subprocess.run(
        [sys.executable, "-m", "stowflow", "server", "start", "--port", str(free_port())],
        capture_output=True, text=True, timeout=60,
        env={**__import__("os").environ,
             "STOWFLOW_DATABASE_URL": "postgresql+psycopg://u:pw@127.0.0.1:1/none"})
    assert result.returncode == 1
    # one clear message: where (no password), the driver's reason, what to check
    assert "cannot reach the database at postgresql+psycopg://u:***@127.0.0.1:1/none: " \
        "connection failed" in result.stderr
    assert "check that the server runs" in result.stderr
    assert "sqlalche.me" not in result.stderr and ":pw@" not in result.stderr
    assert "Traceback" not in result.stderr
    assert "stowflow server on" not in result.stdout


def test_help_documents_the_command() -> None:
    result = subprocess.run([sys.executable, "-m", "stowflow", "server", "start", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--host", "--port", "--auth-token", "STOWFLOW_SERVER_TOKEN", "/api/"):
        assert option in result.stdout


def test_binding_another_address_needs_a_token(stowflow_home: object) -> None:
    result = subprocess.run([sys.executable, "-m", "stowflow", "server", "start", "--host",
                             "0.0.0.0", "--port", "1"], capture_output=True, text=True,
                            timeout=60, env={**__import__("os").environ,
                                             "STOWFLOW_SERVER_TOKEN": ""})
    assert result.returncode == 1
    assert "binding 0.0.0.0" in result.stderr and "STOWFLOW_SERVER_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    short = subprocess.run([sys.executable, "-m", "stowflow", "server", "start", "--host",
                            "0.0.0.0", "--auth-token", "tiny-tok-3"], capture_output=True,
                           text=True, timeout=60)
    assert short.returncode == 1 and "under 16 characters" in short.stderr
    assert "tiny-tok-3" not in short.stderr
    # a refused token is not registered as a secret: its words do not mask the message
    worded = subprocess.run([sys.executable, "-m", "stowflow", "server", "start", "--host",
                             "0.0.0.0", "--auth-token", "short"], capture_output=True,
                            text=True, timeout=60)
    assert worded.returncode == 1
    assert "the server token is too short (under 16 characters)" in worded.stderr


def test_variables_are_edited_and_a_new_one_never_replaces_another(
        http: httpx.Client, on_server: object) -> None:
    from stowflow.variables import get_variable, set_variable

    set_variable("region", "eu", overwrite=True)
    token = _csrf(http, "/variables")
    edit = http.get("/variables", params={"edit": "region"})
    assert "Edit region" in edit.text and 'name="editing" value="region"' in edit.text
    assert http.post("/variables", data={"csrf_token": token, "editing": "region",
                                         "name": "region", "value": '["eu", "us"]'}
                     ).status_code == 303
    assert get_variable("region") == ["eu", "us"]
    # the "New variable" form with a taken name says so and keeps the saved value
    taken = http.post("/variables", data={"csrf_token": token, "name": "region",
                                          "value": "oops"})
    assert taken.status_code == 409 and "variable &#39;region&#39; already exists" in taken.text
    assert ">oops</textarea>" in taken.text  # what was typed is kept
    assert get_variable("region") == ["eu", "us"]
    assert http.post("/variables", data={"csrf_token": token, "name": "bad name!",
                                         "value": "1"}).status_code == 422


def test_a_port_in_use_is_one_clear_error(server: object, stowflow_home: object) -> None:
    port = server.url.rsplit(":", 1)[1]  # type: ignore[attr-defined]
    taken = subprocess.run([sys.executable, "-m", "stowflow", "server", "start", "--port",
                            port], capture_output=True, text=True, timeout=60)
    assert taken.returncode == 1
    assert taken.stderr.strip() == (
        f"Error: cannot listen on 127.0.0.1:{port}: address already in use (stop what "
        "listens there, or choose another --port)")
    assert taken.stdout == ""  # no start-up banner for a server that never started


def test_an_unexpected_error_is_a_500_page_and_one_traceback_in_the_log(
        http: httpx.Client, on_server: object) -> None:
    # A row the server cannot read (here: parameters that are not JSON) is an internal error:
    # a short answer without a traceback, and the traceback once in the server log.
    from sqlalchemy import text as sql
    from stowflow.db import get_engine
    from stowflow.deployments.records import upsert_deployment
    from stowflow.runs import create_flow_run

    run = create_flow_run(upsert_deployment(name="broken-row", flow_name="broken-flow",
                                            entrypoint="f.py:f"), {})
    with get_engine().begin() as connection:
        connection.execute(sql("UPDATE flow_runs SET parameters = '{not json' WHERE id = :id"),
                           {"id": run.id})
    before = on_server.log().count("Traceback")  # type: ignore[attr-defined]
    for path in (f"/api/flow-runs/{run.id}", f"/flow-runs/{run.id}"):
        answer = http.get(path)
        assert answer.status_code == 500 and "Traceback" not in answer.text
        assert "content-security-policy" in answer.headers
        assert "internal error" in answer.text
    import time

    time.sleep(0.5)  # the log is written after the answer
    assert on_server.log().count("Traceback") - before == 2  # type: ignore[attr-defined]
