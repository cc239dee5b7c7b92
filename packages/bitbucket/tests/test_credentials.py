"""BitBucketCredentials: the combinations it accepts and the git pair each one sends."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from stowflow.blocks import Block
from stowflow.errors import ConfigError
from stowflow.redact import redact
from stowflow.testing import assert_no_secret
from stowflow_bitbucket import BitBucketCredentials

TOKEN = "ATCTT3x-p@ss:w/rd%20#+ with spaces"
SERVER = "https://bitbucket.example.com"


def pair(creds):
    auth = creds.git_auth()
    return auth.username, auth.password


def test_slug_and_descriptions():
    assert BitBucketCredentials.get_block_type_slug() == "bitbucket-credentials"
    for name, info in BitBucketCredentials.model_fields.items():
        assert info.description, f"field {name} has no description"
    assert sorted(BitBucketCredentials.secret_field_names()) == ["password", "token"]


def test_cloud_access_token_gets_x_token_auth():
    assert pair(BitBucketCredentials(token=TOKEN)) == ("x-token-auth", TOKEN)
    assert pair(BitBucketCredentials(token=TOKEN, url="https://bitbucket.org")) == (
        "x-token-auth", TOKEN)


def test_x_token_auth_written_by_the_user_is_kept_not_doubled():
    assert pair(BitBucketCredentials(token=f"x-token-auth:{TOKEN}")) == ("x-token-auth", TOKEN)


def test_cloud_app_password_is_username_and_password():
    assert pair(BitBucketCredentials(username="alice", password=TOKEN)) == ("alice", TOKEN)


def test_cloud_api_token_with_username():
    assert pair(BitBucketCredentials(username="alice", token=TOKEN)) == ("alice", TOKEN)


def test_server_is_username_and_token():
    assert pair(BitBucketCredentials(username="alice", token=TOKEN, url=SERVER)) == (
        "alice", TOKEN)
    assert pair(BitBucketCredentials(username="alice", password=TOKEN, url=SERVER)) == (
        "alice", TOKEN)


def test_server_token_without_username_says_what_to_do():
    creds = BitBucketCredentials(token=TOKEN, url=SERVER)
    with pytest.raises(ConfigError, match="needs a username") as info:
        creds.git_auth()
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give a token, or a username and password"),
        ({"username": "alice"}, "give a token, or a username and password"),
        ({"password": TOKEN}, "a password needs a username"),
        ({"token": TOKEN, "password": TOKEN, "username": "a"}, "either a token or a password"),
        ({"token": TOKEN, "username": "a:b"}, "cannot contain ':'"),
        ({"token": TOKEN, "url": "bitbucket.example.com"}, "url must"),
    ],
)
def test_invalid_combinations_are_refused(kwargs, message):
    with pytest.raises(ValidationError, match=message) as info:
        BitBucketCredentials(**kwargs)
    assert TOKEN not in str(info.value)


def test_secrets_are_masked(stowflow_home):
    creds = BitBucketCredentials(username="alice", password=TOKEN)
    assert TOKEN not in repr(creds)
    assert redact(f"pw={TOKEN}") == "pw=***"
    creds.save("bb")
    loaded = Block.load("bitbucket-credentials/bb")
    assert isinstance(loaded, BitBucketCredentials)
    assert pair(loaded) == ("alice", TOKEN)
    assert_no_secret(TOKEN, stowflow_home)
