"""Blocks in a real browser: create through the generated form, see it masked, edit
without retyping the secret, nested block selects, errors beside fields, delete rules,
hostile names rendered as text. Every response is grepped for the planted secrets."""

from __future__ import annotations

import pytest
from stowflow.blocks import Block, Secret
from stowflow.testing import assert_no_secret

GITHUB_TOKEN = "ghp_plantedBrowserToken0123456789abcd"
OTHER_SECRET = "planted-other-secret-5d2a"
HOSTILE = "<img src=x onerror=alert(1)><b>bold &amp; 'q'"  # block names cannot hold "/"


def test_create_github_credentials_through_the_form(page, server, on_server, capture,
                                                    screenshot) -> None:
    page.goto(f"{server.url}/blocks/new")
    page.click("text=GitHub Credentials")
    assert page.url.endswith("/blocks/new/github-credentials")
    # descriptions are the help text; the token is a password input
    assert "personal access token" in page.inner_text("[data-field=token] .help")
    assert page.get_attribute("#f-token", "type") == "password"
    page.fill("#f-__name__", "team-token")
    page.fill("#f-token", GITHUB_TOKEN)
    page.click("#block-form button[type=submit]")
    page.wait_for_url(f"{server.url}/blocks/github-credentials/team-token")
    assert page.inner_text("#block-fields").count("********") == 1
    assert Block.load("github-credentials/team-token").token.get_secret_value() == GITHUB_TOKEN

    # edit: the token input is empty and says a value is saved; a new url keeps the token
    page.click("text=Edit")
    assert page.input_value("#f-token") == ""
    assert "a value is saved" in page.inner_text("[data-field=token]")
    page.fill("#f-url", "https://github.example.com")
    page.click("#block-form button[type=submit]")
    page.wait_for_url(f"{server.url}/blocks/github-credentials/team-token")
    saved = Block.load("github-credentials/team-token")
    assert saved.token.get_secret_value() == GITHUB_TOKEN
    assert saved.url == "https://github.example.com"
    screenshot(page, "block-detail")
    assert_no_secret(GITHUB_TOKEN, page.content(), *capture.texts, server.log())


def test_nested_block_select_and_errors_beside_fields(page, server, on_server,
                                                      capture) -> None:
    from stowflow_github import GitHubCredentials

    GitHubCredentials(token=GITHUB_TOKEN).save("nested-creds", overwrite=True)
    page.goto(f"{server.url}/blocks/new/github-repository")
    options = page.eval_on_selector_all("#f-credentials option", "els => els.map(e => e.value)")
    assert "github-credentials/nested-creds" in options and "" in options
    page.fill("#f-__name__", "repo-one")
    page.fill("#f-repository_url", "not a url at all")
    page.select_option("#f-credentials", "github-credentials/nested-creds")
    page.click("#block-form button[type=submit]")
    error = page.inner_text("[data-field=repository_url] .field-error")
    assert error  # shown beside the field it is about
    assert page.input_value("#f-repository_url") == "not a url at all"  # typed text kept
    page.fill("#f-repository_url", "https://github.com/org/repo.git")
    page.select_option("#f-credentials", "github-credentials/nested-creds")
    page.click("#block-form button[type=submit]")
    page.wait_for_url(f"{server.url}/blocks/github-repository/repo-one")
    repo = Block.load("github-repository/repo-one")
    assert repo.credentials.block_document_name == "nested-creds"

    # the credentials are used by the repository: delete is refused and names it
    page.goto(f"{server.url}/blocks/github-credentials/nested-creds")
    page.click("#delete-button")
    page.click("#confirm-delete button.danger")
    assert "github-repository/repo-one" in page.inner_text(".error")
    assert Block.load("github-credentials/nested-creds")
    page.goto(f"{server.url}/blocks/github-repository/repo-one")
    page.click("#delete-button")
    page.click("#confirm-delete button.danger")
    page.wait_for_url(f"{server.url}/blocks")
    assert_no_secret(GITHUB_TOKEN, *capture.texts, server.log())


def test_hostile_names_render_as_text(page, server, on_server, capture, screenshot) -> None:
    Secret(value=OTHER_SECRET).save(HOSTILE, overwrite=True)
    Secret(value=OTHER_SECRET).save('x" onmouseover="alert(2)', overwrite=True)
    page.goto(f"{server.url}/blocks?q=onerror")
    assert HOSTILE in page.inner_text("#blocks")  # shown as text, not markup
    assert page.locator("#blocks img, #blocks b").count() == 0
    page.click(f"#blocks a >> text={HOSTILE}")
    assert HOSTILE in page.inner_text("h1")
    page.goto(f"{server.url}/blocks?q=onmouseover")
    page.hover("#blocks a >> nth=1")
    page.goto(f"{server.url}/blocks")
    screenshot(page, "blocks")
    assert_no_secret(OTHER_SECRET, *capture.texts, server.log())
    assert_no_secret(GITHUB_TOKEN, *capture.texts, server.log())


def test_a_saved_secret_can_be_cleared_on_edit(page, server, on_server, capture) -> None:
    # Bitbucket takes a token or a username and password, not both: switching needs the
    # saved token removed, which an empty input (keep it) cannot say. An optional secret with
    # a saved value has a "clear" box; a required one has none.
    from stowflow_bitbucket import BitBucketCredentials

    BitBucketCredentials(token=GITHUB_TOKEN).save("switch-me", overwrite=True)
    page.goto(f"{server.url}/blocks/bitbucket-credentials/switch-me/edit")
    assert page.locator("[data-field=password] input[type=checkbox]").count() == 0  # none saved
    page.fill("#f-username", "ci-user")
    page.fill("#f-password", OTHER_SECRET)
    page.click("#block-form button[type=submit]")  # token kept, password added: refused
    assert "not both" in page.inner_text("#block-form, .error")
    page.check("[data-field=token] input[type=checkbox]")
    page.fill("#f-password", OTHER_SECRET)
    page.click("#block-form button[type=submit]")
    page.wait_for_url(f"{server.url}/blocks/bitbucket-credentials/switch-me")
    saved = Block.load("bitbucket-credentials/switch-me")
    assert saved.token is None and saved.username == "ci-user"
    assert saved.password.get_secret_value() == OTHER_SECRET
    Secret(value=OTHER_SECRET).save("required-one", overwrite=True)
    page.goto(f"{server.url}/blocks/secret/required-one/edit")
    assert page.locator("[data-field=value] input[type=checkbox]").count() == 0  # required
    assert_no_secret(GITHUB_TOKEN, *capture.texts, server.log())
    assert_no_secret(OTHER_SECRET, *capture.texts, server.log())


def test_the_pages_load_without_a_console_error(page, server) -> None:
    # Every resource a page asks for exists (the browser's favicon request too) and no
    # script or style is refused by the CSP: the console of a fresh page stays clean.
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    for path in ("/flow-runs", "/deployments", "/blocks", "/blocks/new/secret", "/work-pools",
                 "/variables"):
        page.goto(f"{server.url}{path}")
        page.wait_for_load_state("networkidle")
    assert errors == []


#: What the browser types into each installed block type's form (secrets end in "-s3cr3t").
#: A block type without a row fails the test below: every type must work through its form.
FORM_VALUES: dict[str, dict[str, str]] = {
    "aws-credentials": {"aws_access_key_id": "AKIAFORM", "aws_secret_access_key": "aws-s3cr3t",
                        "aws_client_parameters.endpoint_url": "http://127.0.0.1:9000"},
    "azure-blob-credentials": {"connection_string": "DefaultEndpointsProtocol=http;"
                               "AccountName=a;AccountKey=azure-s3cr3t;"
                               "BlobEndpoint=http://127.0.0.1:10000/a;"},
    "bitbucket-credentials": {"token": "bitbucket-s3cr3t"},
    "docker-registry-credentials": {"username": "u", "password": "docker-s3cr3t",
                                    "registry_url": "ghcr.io"},
    "gcp-credentials": {"service_account_info": '{"type": "service_account", '
                        '"private_key": "gcp-s3cr3t", "client_email": "a@p.iam"}'},
    "github-credentials": {"token": "github-s3cr3t"},
    "gitlab-credentials": {"token": "gitlab-s3cr3t"},
    "secret": {"value": "secret-s3cr3t"},
    # storage and repository blocks pick the credentials saved above in their select
    "azure-blob-storage": {"container": "code", "credentials": "azure-blob-credentials/every"},
    "bitbucket-repository": {"repository_url": "https://bitbucket.org/o/r.git",
                             "credentials": "bitbucket-credentials/every"},
    "gcs-bucket": {"bucket": "code", "gcp_credentials": "gcp-credentials/every"},
    "github-repository": {"repository_url": "https://github.com/o/r.git",
                          "credentials": "github-credentials/every"},
    "gitlab-repository": {"repository_url": "https://gitlab.com/o/r.git",
                          "credentials": "gitlab-credentials/every"},
    "s3-bucket": {"bucket_name": "code", "credentials": "aws-credentials/every"},
}


def test_every_installed_block_type_is_created_and_edited_through_its_form(
        page, server, on_server, capture) -> None:
    from stowflow.blocks.types import known_block_types

    assert set(FORM_VALUES) == set(known_block_types())
    for slug, values in FORM_VALUES.items():  # credentials first: the others refer to them
        page.goto(f"{server.url}/blocks/new/{slug}")
        page.fill("#f-__name__", "every")
        for name, value in values.items():
            selector = f'[name="{name}"]'
            if page.eval_on_selector(selector, "e => e.tagName") == "SELECT":
                page.select_option(selector, value)
            else:
                page.fill(selector, value)
        page.click("#block-form button[type=submit]")
        page.wait_for_url(f"{server.url}/blocks/{slug}/every")
        page.goto(f"{server.url}/blocks/{slug}/every/edit")  # saved again as shown
        assert all(page.input_value(f'[name="{n}"]') == "" for n in values
                   if n in known_block_types()[slug].secret_field_names())
        page.click("#block-form button[type=submit]")
        page.wait_for_url(f"{server.url}/blocks/{slug}/every")
        saved = Block.load(f"{slug}/every")
        for name, value in values.items():
            if "/" in value and "://" not in value:  # a saved block chosen in a select
                assert getattr(saved, name).block_document_name == "every", (slug, name)
            elif name in type(saved).secret_field_names():
                assert getattr(saved, name).get_secret_value() == value, (slug, name)
    for text in capture.texts:
        assert "s3cr3t" not in text
    assert "s3cr3t" not in server.log()


def test_delete_asks_first_and_names_the_deployments_that_use_the_block(
        page, server, on_server, capture) -> None:
    # Deleting a credentials block cannot be undone and breaks the runs of every deployment
    # whose pull steps name it: the page says which, and deletes only when confirmed.
    from stowflow.deployments.records import upsert_deployment
    from stowflow.errors import BlockNotFoundError
    from stowflow_github import GitHubCredentials

    GitHubCredentials(token=GITHUB_TOKEN).save("confirm-me", overwrite=True)
    upsert_deployment(name="uses-it", flow_name="confirm-flow", entrypoint="f.py:f",
                      pull_steps=[{"stowflow.deployments.steps.git_clone": {
                          "repository": "https://github.com/o/r.git",
                          "credentials": "{{ stowflow.blocks.github-credentials.confirm-me }}"}}])
    page.goto(f"{server.url}/blocks/github-credentials/confirm-me")
    page.click("#delete-button")
    assert page.url.endswith("/blocks/github-credentials/confirm-me/delete")
    assert "confirm-flow/uses-it" in page.inner_text("#block-users")
    assert Block.load("github-credentials/confirm-me")  # asking deleted nothing
    page.click("#confirm-delete a.button")  # Cancel
    assert page.url.endswith("/blocks/github-credentials/confirm-me")
    page.click("#delete-button")
    page.click("#confirm-delete button.danger")
    page.wait_for_url(f"{server.url}/blocks")
    with pytest.raises(BlockNotFoundError):
        Block.load("github-credentials/confirm-me")
    assert_no_secret(GITHUB_TOKEN, *capture.texts, server.log())
