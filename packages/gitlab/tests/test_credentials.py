"""GitLabCredentials: fields, validation, the git pair it sends, secrets at rest."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from stowflow.blocks import Block
from stowflow.redact import redact
from stowflow.testing import assert_no_secret
from stowflow_gitlab import GitLabCredentials

TOKEN = "glpat-p@ss:w/rd%20#+ with spaces"


def test_slug_and_descriptions():
    assert GitLabCredentials.get_block_type_slug() == "gitlab-credentials"
    assert GitLabCredentials.get_block_type_name() == "GitLab Credentials"
    for name, info in GitLabCredentials.model_fields.items():
        assert info.description, f"field {name} has no description"
    assert GitLabCredentials.secret_field_names() == ["token"]


def test_access_token_is_sent_as_oauth2():
    auth = GitLabCredentials(token=TOKEN).git_auth()
    assert (auth.username, auth.password) == ("oauth2", TOKEN)
    assert TOKEN not in repr(auth)


def test_deploy_token_is_sent_with_its_own_username():
    auth = GitLabCredentials(token=TOKEN, deploy_token_username="gitlab+deploy-token-7").git_auth()
    assert (auth.username, auth.password) == ("gitlab+deploy-token-7", TOKEN)


def test_deploy_token_username_cannot_hold_a_colon():
    with pytest.raises(ValidationError, match="cannot contain ':'"):
        GitLabCredentials(token=TOKEN, deploy_token_username="a:b")


def test_token_is_registered_with_the_redactor_and_masked_in_repr():
    creds = GitLabCredentials(token=TOKEN)
    assert TOKEN not in repr(creds)
    assert redact(f"token={TOKEN}") == "token=***"


@pytest.mark.parametrize("url", ["gitlab.example.com", "ftp://gitlab.example.com",
                                 "https://user:pw@gitlab.example.com"])
def test_bad_url_is_refused(url):
    with pytest.raises(ValidationError, match="url must"):
        GitLabCredentials(token="tok-1234", url=url)


def test_url_is_normalised():
    assert GitLabCredentials(token="tok-1234", url=" https://gl.example.com/ ").url == (
        "https://gl.example.com")
    assert GitLabCredentials(token="tok-1234", url="").url is None


def test_save_load_round_trip_keeps_token_encrypted(stowflow_home):
    GitLabCredentials(token=TOKEN, url="https://gl.example.com",
                      deploy_token_username="deployer").save("gl")
    loaded = Block.load("gitlab-credentials/gl")
    assert isinstance(loaded, GitLabCredentials)
    assert loaded.token.get_secret_value() == TOKEN
    assert (loaded.url, loaded.deploy_token_username) == ("https://gl.example.com", "deployer")
    assert_no_secret(TOKEN, stowflow_home)
