"""get_client(): a python-gitlab client that really sends the block's token to its url."""

from __future__ import annotations

import pytest
from stowflow.errors import ConfigError
from stowflow.testing.http_recorder import recording_http_server
from stowflow_gitlab import GitLabCredentials

TOKEN = "glpat-p@ss:w/rd%20#+ with spaces"
USER = {"id": 1, "username": "tanuki", "name": "Tanuki"}


def test_client_sends_private_token_to_self_managed_url():
    with recording_http_server(USER) as server:
        client = GitLabCredentials(token=TOKEN, url=server.url).get_client()
        client.auth()
        assert client.user.username == "tanuki"
    assert [r.path for r in server.requests] == ["/api/v4/user"]
    assert server.header("PRIVATE-TOKEN") == [TOKEN]
    assert server.header("Authorization") == [None]


def test_client_can_send_an_oauth_token():
    with recording_http_server(USER) as server:
        client = GitLabCredentials(token=TOKEN, url=server.url).get_client(oauth=True)
        client.auth()
    assert server.header("Authorization") == [f"Bearer {TOKEN}"]
    assert server.header("PRIVATE-TOKEN") == [None]


def test_client_for_gitlab_com_by_default():
    client = GitLabCredentials(token="tok-1234").get_client()
    assert client.url == "https://gitlab.com"
    assert client.api_url == "https://gitlab.com/api/v4"


def test_deploy_token_cannot_make_an_api_client():
    creds = GitLabCredentials(token=TOKEN, deploy_token_username="gitlab+deploy-token-1")
    with pytest.raises(ConfigError, match="deploy token") as info:
        creds.get_client()
    assert TOKEN not in str(info.value)
