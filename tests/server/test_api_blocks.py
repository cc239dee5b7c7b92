"""The blocks JSON API against the real server: create, edit, delete, validation, and
secret fields that are write-only (every response and the server log are grepped)."""

from __future__ import annotations

import httpx
from stowflow.blocks import Block
from stowflow.testing import assert_no_secret

TOKEN = "ghp_planted-api-token-51c9e0d2"
NEW_TOKEN = "ghp_planted-new-token-7f3a11bb"


class Recorder:
    """Every response of one test, as text (headers and body)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.texts: list[str] = []

    def __call__(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)  # type: ignore[arg-type]
        self.texts.append(f"{response.status_code} {response.headers} {response.text}")
        return response


def test_openapi_documents_the_block_writes(http: httpx.Client) -> None:
    paths = http.get("/api/openapi.json").json()["paths"]
    assert "post" in paths["/api/blocks/{slug}"]
    assert {"get", "patch", "delete"} <= set(paths["/api/blocks/{slug}/{name}"])
    body = paths["/api/blocks/{slug}"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/BlockCreate")


def test_create_edit_delete_with_write_only_secrets(http: httpx.Client,
                                                    on_server: object) -> None:
    call = Recorder(http)
    made = call("POST", "/api/blocks/github-credentials",
                json={"name": "api-gh", "data": {"token": TOKEN, "url": "https://github.com"}})
    assert made.status_code == 201, made.text
    assert made.json()["data"] == {"token": "********", "url": "https://github.com"}
    assert Block.load("github-credentials/api-gh").token.get_secret_value() == TOKEN

    # a repository block referring to it by "slug/name"
    repo = call("POST", "/api/blocks/github-repository", json={"name": "api-repo", "data": {
        "repository_url": "https://github.com/org/repo.git",
        "credentials": "github-credentials/api-gh"}})
    assert repo.status_code == 201, repo.text
    assert repo.json()["data"]["credentials"] == {
        "block": "github-credentials/api-gh", "token": "********", "url": "https://github.com"}

    # editing a non-secret field keeps the saved secret and the document id
    doc_id = made.json()["id"]
    edited = call("PATCH", "/api/blocks/github-credentials/api-gh",
                  json={"data": {"url": "https://ghe.example.com"}})
    assert edited.status_code == 200, edited.text
    assert edited.json()["id"] == doc_id
    loaded = Block.load("github-credentials/api-gh")
    assert (loaded.url, loaded.token.get_secret_value()) == ("https://ghe.example.com", TOKEN)

    # handing the masked view back is refused rather than saving the asterisks
    masked = call("PATCH", "/api/blocks/github-credentials/api-gh",
                  json={"data": call("GET", "/api/blocks/github-credentials/api-gh")
                        .json()["data"]})
    assert masked.status_code == 422
    assert masked.json()["problems"][0]["loc"] == ["token"]
    assert Block.load("github-credentials/api-gh").token.get_secret_value() == TOKEN

    # the repository's masked view goes back unchanged (its nested block is kept)
    again = call("PATCH", "/api/blocks/github-repository/api-repo",
                 json={"data": {**repo.json()["data"], "reference": "main"}})
    assert again.status_code == 200, again.text
    assert Block.load("github-repository/api-repo").credentials.block_document_name == "api-gh"

    renewed = call("PATCH", "/api/blocks/github-credentials/api-gh",
                   json={"data": {"token": NEW_TOKEN}})
    assert renewed.status_code == 200
    assert Block.load("github-credentials/api-gh").token.get_secret_value() == NEW_TOKEN

    in_use = call("DELETE", "/api/blocks/github-credentials/api-gh")
    assert in_use.status_code == 409
    assert "github-repository/api-repo" in in_use.json()["error"]
    assert call("DELETE", "/api/blocks/github-repository/api-repo").status_code == 204
    assert call("DELETE", "/api/blocks/github-credentials/api-gh").status_code == 204
    assert call("GET", "/api/blocks/github-credentials/api-gh").status_code == 404
    assert_no_secret(TOKEN, *call.texts, on_server.log())  # type: ignore[attr-defined]
    assert_no_secret(NEW_TOKEN, *call.texts, on_server.log())  # type: ignore[attr-defined]


def test_invalid_writes_name_the_field_and_never_quote_the_input(
        http: httpx.Client, on_server: object) -> None:
    call = Recorder(http)
    missing = call("POST", "/api/blocks/github-credentials",
                   json={"name": "bad-gh", "data": {"url": "https://github.com"}})
    assert missing.status_code == 422
    assert missing.json()["problems"] == [{"loc": ["token"], "msg": "Field required"}]
    # a secret in the wrong place (an unknown field, a wrong type) is not echoed either
    unknown = call("POST", "/api/blocks/github-credentials",
                   json={"name": "bad-gh", "data": {"token": TOKEN, "tokn": TOKEN}})
    assert unknown.status_code == 422
    assert [p["loc"] for p in unknown.json()["problems"]] == [["tokn"]]
    wrong_type = call("POST", "/api/blocks/github-credentials",
                      json={"name": "bad-gh", "data": {"token": [TOKEN]}})
    assert wrong_type.status_code == 422
    no_such_ref = call("POST", "/api/blocks/github-repository", json={"name": "bad-repo", "data": {
        "repository_url": "https://github.com/o/r.git", "credentials": "github-credentials/nope"}})
    assert no_such_ref.status_code == 422
    assert no_such_ref.json()["problems"][0]["loc"] == ["credentials"]
    bad_name = call("POST", "/api/blocks/github-credentials",
                    json={"name": "a/b", "data": {"token": TOKEN}})
    assert bad_name.status_code == 400 and "invalid block name" in bad_name.json()["error"]
    assert call("POST", "/api/blocks/no-such-type",
                json={"name": "x", "data": {}}).status_code == 404
    assert call("POST", "/api/blocks/github-credentials",
                json={"name": "dup-gh", "data": {"token": TOKEN}}).status_code == 201
    taken = call("POST", "/api/blocks/github-credentials",
                 json={"name": "dup-gh", "data": {"token": NEW_TOKEN}})
    assert taken.status_code == 409
    assert Block.load("github-credentials/dup-gh").token.get_secret_value() == TOKEN
    assert call("PATCH", "/api/blocks/github-credentials/nope",
                json={"data": {}}).status_code == 404
    # a cross-site page cannot write (a foreign Origin on a token-less server)
    forged = call("POST", "/api/blocks/secret", headers={"Origin": "http://evil.example"},
                  json={"name": "forged", "data": {"value": "v"}})
    assert forged.status_code == 403
    assert call("GET", "/api/blocks/secret/forged").status_code == 404
    assert call("DELETE", "/api/blocks/github-credentials/dup-gh",
                headers={"Origin": "http://evil.example"}).status_code == 403
    assert Block.load("github-credentials/dup-gh").token.get_secret_value() == TOKEN
    assert_no_secret(TOKEN, *call.texts, on_server.log())  # type: ignore[attr-defined]
    assert_no_secret(NEW_TOKEN, *call.texts, on_server.log())  # type: ignore[attr-defined]
