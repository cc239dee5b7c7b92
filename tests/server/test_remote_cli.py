"""The CLI over STOWFLOW_API_URL: deployment run, flow-run ls/logs and block ls talk to
the server, never to a database (the one configured here cannot be reached)."""

from __future__ import annotations

import pytest
from stowflow.blocks import Secret
from stowflow.cli.app import main
from stowflow.deployments.records import upsert_deployment
from stowflow.runs import list_flow_runs, write_logs
from stowflow.testing import assert_no_secret

PLANTED = "planted-remote-secret-44aa19"
UNREACHABLE_DB = "postgresql+psycopg://nobody:pw@127.0.0.1:1/none"


def test_cli_commands_use_the_api(on_server, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    Secret(value=PLANTED).save("remote-secret")
    dep_id = upsert_deployment(
        name="remote", flow_name="remote-flow", entrypoint="f.py:f", work_pool_name="rp",
        parameter_schema={"type": "object", "required": ["n"],
                          "properties": {"n": {"type": "integer"}, "code": {"type": "string"}}})
    # from here on the CLI has no usable database: only the API
    monkeypatch.setenv("STOWFLOW_HOME", str(tmp_path / "client-home"))
    monkeypatch.setenv("STOWFLOW_DATABASE_URL", UNREACHABLE_DB)
    monkeypatch.setenv("STOWFLOW_API_URL", on_server.url)

    assert main(["block", "ls", "--type", "secret"]) == 0
    assert "secret/remote-secret" in capsys.readouterr().out

    assert main(["deployment", "run", "remote-flow/remote", "-p", "n=x"]) == 1
    assert "invalid parameters" in capsys.readouterr().err
    assert main(["deployment", "run", "remote-flow/remote", "-p", "n=3", "-p",
                 "code=007"]) == 0
    out = capsys.readouterr().out
    assert "Created flow run" in out

    monkeypatch.setenv("STOWFLOW_HOME", str(on_server.home))
    monkeypatch.delenv("STOWFLOW_DATABASE_URL")
    run = list_flow_runs(deployment_id=dep_id, limit=1)[0]
    assert run.parameters == {"n": 3, "code": "007"}  # the --param rule, then the API
    write_logs(run.id, [("INFO", "remote line one"), ("INFO", f"masked {PLANTED}")])
    monkeypatch.setenv("STOWFLOW_HOME", str(tmp_path / "client-home"))
    monkeypatch.setenv("STOWFLOW_DATABASE_URL", UNREACHABLE_DB)

    assert main(["flow-run", "ls", "--deployment", "remote-flow/remote"]) == 0
    assert run.id in capsys.readouterr().out
    assert main(["flow-run", "logs", run.id[:8]]) == 0
    logs = capsys.readouterr().out
    assert "remote line one" in logs and "masked ***" in logs
    assert main(["flow-run", "logs", "no-such-run"]) == 1
    assert "no flow run" in capsys.readouterr().err
    assert_no_secret(PLANTED, logs, on_server.log())


def test_an_unreachable_server_is_one_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STOWFLOW_API_URL", "http://127.0.0.1:1")
    assert main(["block", "ls"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the stowflow server at http://127.0.0.1:1" in err
    assert "Traceback" not in err


def test_an_address_that_is_not_a_stowflow_server_is_one_clear_error(
        on_server, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from stowflow.testing.http_recorder import recording_http_server

    monkeypatch.setenv("STOWFLOW_DATABASE_URL", UNREACHABLE_DB)
    # a login proxy's page (200) or another web server's 404: not JSON, not stowflow
    for status in (200, 404):
        with recording_http_server(status=status, html="<html>sign in</html>") as other:
            monkeypatch.setenv("STOWFLOW_API_URL", other.url)
            assert main(["block", "ls"]) == 1
            err = capsys.readouterr().err
            assert f"{other.url} does not answer as a stowflow server" in err, err
            assert "STOWFLOW_API_URL" in err and "JSONDecodeError" not in err
    # the address the banner prints, with the "/api" it mentions: refused, saying why
    monkeypatch.setenv("STOWFLOW_API_URL", f"{on_server.url}/api/")
    assert main(["block", "ls"]) == 1
    err = capsys.readouterr().err
    assert "ends with /api" in err and on_server.url in err


def test_a_token_server_takes_the_token_and_says_when_it_is_missing_or_wrong(
        tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from stowflow.testing.servers.web import start_stowflow_server

    token = "planted-remote-token-0c3e55aa"
    server = start_stowflow_server(tmp_path / "token-home", token=token)
    try:
        monkeypatch.setenv("STOWFLOW_DATABASE_URL", UNREACHABLE_DB)
        monkeypatch.setenv("STOWFLOW_API_URL", server.url)
        assert main(["block", "ls"]) == 1
        err = capsys.readouterr().err
        assert "needs a token" in err and "STOWFLOW_API_TOKEN" in err
        monkeypatch.setenv("STOWFLOW_API_TOKEN", "not-the-token-at-all")
        assert main(["flow-run", "ls"]) == 1
        err = capsys.readouterr().err
        assert "refused the token in STOWFLOW_API_TOKEN" in err and "Traceback" not in err
        assert "not-the-token-at-all" not in err
        monkeypatch.setenv("STOWFLOW_API_TOKEN", token)
        assert main(["flow-run", "ls"]) == 0
        assert main(["deployment", "run", "nope/nope"]) == 1
        captured = capsys.readouterr()
        assert "no deployment" in captured.err
        assert_no_secret(token, captured.out, captured.err, server.log())
    finally:
        server.stop()
