"""GitHubCredentials: fields, validation, the git pair it sends, secrets at rest."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from stowflow.blocks import Block
from stowflow.redact import redact
from stowflow.testing import assert_no_secret
from stowflow_github import GitHubCredentials

TOKEN = "ghp_p@ss:w/rd%20#+ with spaces"


def test_slug_and_descriptions():
    assert GitHubCredentials.get_block_type_slug() == "github-credentials"
    assert GitHubCredentials.get_block_type_name() == "GitHub Credentials"
    for name, info in GitHubCredentials.model_fields.items():
        assert info.description, f"field {name} has no description"
    assert GitHubCredentials.secret_field_names() == ["token"]


def test_git_auth_is_fixed_username_and_the_token_verbatim():
    auth = GitHubCredentials(token=TOKEN).git_auth()
    assert (auth.username, auth.password) == ("x-access-token", TOKEN)
    assert TOKEN not in repr(auth)


def test_token_is_registered_with_the_redactor_and_masked_in_repr():
    creds = GitHubCredentials(token=TOKEN)
    assert TOKEN not in repr(creds)
    assert redact(f"token={TOKEN}") == "token=***"


@pytest.mark.parametrize(
    ("url", "api_url"),
    [
        (None, "https://api.github.com"),
        ("https://github.com", "https://api.github.com"),
        ("https://ghe.example.com/", "https://ghe.example.com/api/v3"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com/api/v3"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v3"),
    ],
)
def test_api_url_from_url(url, api_url):
    assert GitHubCredentials(token="tok-1234", url=url).api_url == api_url


@pytest.mark.parametrize("url", ["ghe.example.com", "ftp://ghe.example.com", "https://"])
def test_bad_url_is_refused(url):
    with pytest.raises(ValidationError, match="url must be an http"):
        GitHubCredentials(token="tok-1234", url=url)


def test_save_load_round_trip_keeps_token_encrypted(stowflow_home):
    GitHubCredentials(token=TOKEN, url="https://ghe.example.com").save("gh")
    loaded = Block.load("github-credentials/gh")
    assert isinstance(loaded, GitHubCredentials)
    assert loaded.token.get_secret_value() == TOKEN
    assert loaded.url == "https://ghe.example.com"
    assert_no_secret(TOKEN, stowflow_home)
