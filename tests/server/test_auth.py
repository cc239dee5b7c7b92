"""A server with a token: login page, session cookie flags, bearer API access, CSRF, and
the token never echoed. Also: the worker never imports the web stack."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.web import StowflowServer, start_stowflow_server

TOKEN = "planted-server-token-9f8e7d6c5b4a"


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StowflowServer]:
    server = start_stowflow_server(tmp_path_factory.mktemp("token-home"), token=TOKEN)
    yield server
    server.stop()


@pytest.fixture
def client(token_server: StowflowServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=token_server.url, timeout=30) as http:
        yield http


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found
    return found.group(1)


def test_pages_need_a_login_and_the_api_a_bearer_token(client: httpx.Client,
                                                       token_server: StowflowServer) -> None:
    page = client.get("/blocks")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/blocks"
    api = client.get("/api/blocks")
    assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
    wrong = client.get("/api/blocks", headers={"Authorization": "Bearer wrong-token-xyz"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    # a wrong token is told apart from a missing one, and never echoed
    assert wrong.json()["error"] == "the bearer token is not this server's token"
    assert "STOWFLOW_SERVER_TOKEN" in wrong.json()["hint"] and "wrong-token-xyz" not in wrong.text
    assert api.json()["error"] == "authentication required"
    ok = client.get("/api/blocks", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    assert client.get("/api/health").status_code == 200  # open, for load balancers
    assert "content-security-policy" in page.headers and "content-security-policy" in api.headers


def test_login_sets_a_strict_httponly_session(client: httpx.Client,
                                              token_server: StowflowServer) -> None:
    form = client.get("/login?next=/blocks")
    csrf = _csrf(form.text)
    wrong = client.post("/login", data={"token": "not-the-token", "next": "/blocks",
                                        "csrf_token": csrf})
    assert wrong.status_code == 401 and "wrong token" in wrong.text
    no_csrf = client.post("/login", data={"token": TOKEN, "next": "/blocks"})
    assert no_csrf.status_code == 403
    good = client.post("/login", data={"token": TOKEN, "next": "//evil.example/x",
                                       "csrf_token": _csrf(client.get("/login").text)})
    assert good.status_code == 303 and good.headers["location"] == "/"  # no open redirect
    cookie = good.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/blocks").status_code == 200
    # a state change still needs the session's CSRF token, logged in or not
    assert client.post("/blocks/new/secret",
                       data={"__name__": "x", "value": "y"}).status_code == 403
    csrf = _csrf(client.get("/blocks/new/secret").text)
    made = client.post("/blocks/new/secret",
                       data={"__name__": "x", "value": "y", "csrf_token": csrf})
    assert made.status_code == 303
    client.post("/logout", data={"csrf_token": csrf})
    assert client.get("/blocks").status_code == 303
    assert_no_secret(TOKEN, form.text, wrong.text, good.text, str(good.headers),
                     token_server.log())


def test_bearer_clients_need_no_csrf_token(token_server: StowflowServer) -> None:
    with httpx.Client(base_url=token_server.url,
                      headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        page = api.get("/blocks")
        assert page.status_code == 200
        assert TOKEN not in page.text


def test_the_worker_never_imports_the_web_stack(stowflow_home: object) -> None:
    code = (
        "import sys\n"
        "from stowflow.cli.app import main\n"
        "code = main(['worker', 'start', '--pool', 'p', '--run-once'])\n"
        "import stowflow.workers.execute\n"
        "web = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'fastapi', 'starlette', 'uvicorn', 'jinja2', 'multipart', 'itsdangerous'} "
        "or m.startswith('stowflow.server'))\n"
        "print('CODE', code, 'WEB', web)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert "CODE 0 WEB []" in result.stdout, result.stdout + result.stderr


def test_every_state_changing_route_needs_the_csrf_token(client: httpx.Client) -> None:
    # Logged in (session cookie) but without the session's CSRF token, every POST, PUT,
    # PATCH and DELETE route of the app — API and pages, listed from the routers, so a new
    # route is checked too — is refused before its handler runs.
    from fastapi.routing import APIRoute
    from stowflow.server import api, api_blocks
    from stowflow.server.pages import ROUTERS

    routes = [r for router in [api.router, api_blocks.router, *ROUTERS]
              for r in router.routes if isinstance(r, APIRoute)]
    unsafe = sorted({(method, route.path) for route in routes
                     for method in route.methods - {"GET", "HEAD"}})
    assert len(unsafe) >= 20 and ("PUT", "/api/variables/{name}") in unsafe
    good = client.post("/login", data={"token": TOKEN, "next": "/",
                                       "csrf_token": _csrf(client.get("/login").text)})
    assert good.status_code == 303 and client.get("/blocks").status_code == 200
    for method, path in unsafe:
        url = re.sub(r"\{[^}]+\}", "x", path)
        if path.startswith("/api/"):
            answer = client.request(method, url, json={"name": "x", "data": {}})
        else:
            answer = client.request(method, url, data={"token": TOKEN, "name": "x"})
        assert answer.status_code == 403, (method, path, answer.status_code)
    assert client.get("/blocks").status_code == 200  # still logged in: only writes refused
