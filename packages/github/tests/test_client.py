"""get_client(): a PyGithub client that really sends the block's token to the API URL."""

from __future__ import annotations

from stowflow.testing.http_recorder import recording_http_server
from stowflow_github import GitHubCredentials

TOKEN = "ghp_p@ss:w/rd%20#+ with spaces"


def test_client_sends_token_to_enterprise_api_url():
    with recording_http_server({"login": "octocat", "id": 1}) as server:
        client = GitHubCredentials(token=TOKEN, url=server.url).get_client(retry=None)
        assert client.get_user().login == "octocat"
    assert [r.path for r in server.requests] == ["/api/v3/user"]
    assert server.header("Authorization") == [f"token {TOKEN}"]


def test_client_for_github_com_uses_the_public_api():
    client = GitHubCredentials(token="tok-1234").get_client()
    assert client.requester.base_url == "https://api.github.com"


def test_client_options_are_passed_through():
    with recording_http_server({"login": "octocat", "id": 1}) as server:
        client = GitHubCredentials(token=TOKEN).get_client(base_url=server.url, retry=None)
        assert client.get_user().login == "octocat"
    assert [r.path for r in server.requests] == ["/user"]
