"""get_client(): atlassian-python-api clients that really send the block's credentials."""

from __future__ import annotations

import base64

from atlassian import Bitbucket
from atlassian.bitbucket import Cloud
from stowflow.testing.http_recorder import recording_http_server
from stowflow_bitbucket import BitBucketCredentials

TOKEN = "ATCTT3x-p@ss:w/rd%20#+ with spaces"


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_cloud_access_token_is_a_bearer_token():
    with recording_http_server({"values": []}) as server:
        client = BitBucketCredentials(token=f"x-token-auth:{TOKEN}").get_client(url=server.url)
        assert isinstance(client, Cloud)
        client.get("user")
    assert [r.path for r in server.requests] == ["/2.0/user"]
    assert server.header("Authorization") == [f"Bearer {TOKEN}"]


def test_cloud_app_password_is_basic():
    with recording_http_server({"values": []}) as server:
        client = BitBucketCredentials(username="alice", password=TOKEN).get_client(url=server.url)
        client.get("user")
    assert server.header("Authorization") == [basic("alice", TOKEN)]


def test_cloud_default_api_url():
    client = BitBucketCredentials(token="tok-1234").get_client()
    assert isinstance(client, Cloud)
    assert client.url == "https://api.bitbucket.org/2.0"


def test_server_username_and_token_is_basic_against_its_url():
    with recording_http_server({"values": [], "isLastPage": True}) as server:
        client = BitBucketCredentials(username="alice", token=TOKEN, url=server.url).get_client()
        assert isinstance(client, Bitbucket)
        client.get("rest/api/1.0/projects")
    assert [r.path for r in server.requests] == ["/rest/api/1.0/projects"]
    assert server.header("Authorization") == [basic("alice", TOKEN)]


def test_server_project_token_alone_is_a_bearer_token():
    with recording_http_server({"values": []}) as server:
        BitBucketCredentials(token=TOKEN, url=server.url).get_client().get("rest/api/1.0/projects")
    assert server.header("Authorization") == [f"Bearer {TOKEN}"]
