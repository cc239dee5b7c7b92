"""AzureBlobCredentials: the allowed combinations, the clients it builds, and its secrets."""

from __future__ import annotations

import pytest
from azure.identity import ClientSecretCredential, DefaultAzureCredential
from azure.storage.blob import ExponentialRetry
from pydantic import SecretStr, ValidationError
from stowflow.blocks import Block
from stowflow.errors import BlockError, ConfigError
from stowflow.redact import redact
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.azurite import AzuriteServer
from stowflow_azure import AzureBlobCredentials

URL = "https://acct.blob.core.windows.net"
SECRET = "sp-secret-value-123"
CONN = ("DefaultEndpointsProtocol=https;AccountName=acct;"
        "AccountKey=a2V5LXRoYXQtaXMtc2VjcmV0;EndpointSuffix=core.windows.net")


@pytest.mark.parametrize(("fields", "message"), [
    ({}, "exactly one of connection_string or account_url; neither is set"),
    ({"connection_string": CONN, "account_url": URL}, "not both"),
    ({"connection_string": CONN, "client_id": "id"}, "client_id only go with account_url"),
    ({"connection_string": CONN, "client_id": "i", "tenant_id": "t", "client_secret": SECRET},
     "client_id, tenant_id, client_secret only go with account_url"),
    ({"account_url": URL, "client_id": "id"}, "missing tenant_id, client_secret"),
    ({"account_url": URL, "tenant_id": "t", "client_secret": SECRET}, "missing client_id"),
    ({"account_url": "acct.blob.core.windows.net"}, "must be an http(s) URL"),
    ({"account_url": URL + "/?sv=2024&sig=abcdef"}, "must not carry a query string"),
])
def test_wrong_combinations_say_what_is_wrong(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        AzureBlobCredentials(**fields)  # type: ignore[arg-type]
    assert message in str(info.value)
    for secret in (SECRET, "a2V5LXRoYXQtaXMtc2VjcmV0", "abcdef"):
        assert_no_secret(secret, str(info.value))
    with pytest.raises(BlockError) as info2:
        AzureBlobCredentials.coerce(fields)
    assert message in str(info2.value)
    assert_no_secret(SECRET, str(info2.value))


def test_allowed_combinations() -> None:
    assert AzureBlobCredentials(connection_string=SecretStr(CONN)).get_credential() is None
    sp = AzureBlobCredentials(account_url=URL, client_id="i", tenant_id="t",
                              client_secret=SecretStr(SECRET))
    assert isinstance(sp.get_credential(), ClientSecretCredential)
    assert isinstance(AzureBlobCredentials(account_url=URL).get_credential(),
                      DefaultAzureCredential)
    # empty strings (from templates or the environment) count as unset
    blank = AzureBlobCredentials(account_url=URL, client_id="", tenant_id=" ",
                                 connection_string="")  # type: ignore[arg-type]
    assert blank.client_id is None and blank.connection_string is None


def test_account_name() -> None:
    assert AzureBlobCredentials(connection_string=SecretStr(CONN)).account_name == "acct"
    assert AzureBlobCredentials(account_url=URL).account_name == "acct"
    assert AzureBlobCredentials(
        account_url="http://127.0.0.1:10000/devstoreaccount1").account_name == "devstoreaccount1"
    sas_only = "BlobEndpoint=https://other.blob.core.windows.net/;SharedAccessSignature=sv=x&sig=y"
    assert AzureBlobCredentials(connection_string=SecretStr(sas_only)).account_name == "other"
    emulator = AzureBlobCredentials(connection_string=SecretStr("UseDevelopmentStorage=true"))
    assert emulator.account_name == "devstoreaccount1"


def test_client_pool_is_sized_to_concurrency() -> None:
    credentials = AzureBlobCredentials(connection_string=SecretStr(CONN))
    with credentials.get_blob_service_client(max_concurrency=24) as client:
        session = client._config.transport.session  # type: ignore[attr-defined]
        assert session.get_adapter("https://acct.blob.core.windows.net")._pool_maxsize == 24
        retry = client._config.retry_policy  # type: ignore[attr-defined]
        assert isinstance(retry, ExponentialRetry)
        assert retry.total_retries <= 3 and retry.connect_retries <= 1


def test_service_principal_client_uses_the_account_url() -> None:
    sp = AzureBlobCredentials(account_url=URL, client_id="i", tenant_id="t",
                              client_secret=SecretStr(SECRET))
    with sp.get_blob_service_client() as client:
        assert client.account_name == "acct"
        assert isinstance(client.credential, ClientSecretCredential)


def test_real_client_from_connection_string(azurite_server: AzuriteServer) -> None:
    name = azurite_server.create_container()
    credentials = AzureBlobCredentials(
        connection_string=SecretStr(azurite_server.connection_string))
    with credentials.get_blob_service_client(max_concurrency=2) as client:
        assert name in [c.name for c in client.list_containers()]


def test_secrets_are_encrypted_masked_and_restored() -> None:
    credentials = AzureBlobCredentials(account_url=URL, client_id="i", tenant_id="t",
                                       client_secret=SecretStr(SECRET))
    assert redact(f"x {SECRET} y") == "x *** y"
    assert_no_secret(SECRET, repr(credentials), str(credentials))
    credentials.save("sp")
    loaded = Block.load("azure-blob-credentials/sp")
    assert isinstance(loaded, AzureBlobCredentials)
    assert loaded.client_secret is not None
    assert loaded.client_secret.get_secret_value() == SECRET
    assert loaded.revealed_data()["client_secret"] == SECRET
    assert AzureBlobCredentials.coerce(loaded.revealed_data()).revealed_data() == loaded.revealed_data()


def test_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_URL", raising=False)
    with pytest.raises(ConfigError, match="AZURE_STORAGE_CONNECTION_STRING"):
        AzureBlobCredentials.coerce(None)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_URL", URL)
    assert AzureBlobCredentials.coerce(None).account_url == URL
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", CONN)
    from_env = AzureBlobCredentials.coerce(None)
    assert from_env.connection_string is not None
    assert from_env.connection_string.get_secret_value() == CONN
    assert redact(CONN) == "***"


def test_coerce_refuses_other_types() -> None:
    with pytest.raises(BlockError, match="got str"):
        AzureBlobCredentials.coerce("a-connection-string")  # type: ignore[arg-type]


def test_block_create_through_the_cli(azurite_server: AzuriteServer,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from stowflow.cli.app import main

    monkeypatch.setattr("sys.stdin", io.StringIO(
        f"connection_string={azurite_server.connection_string}\n"))
    assert main(["block", "create", "azure-blob-credentials", "from-cli"]) == 0
    loaded = AzureBlobCredentials.load("from-cli")
    assert loaded.connection_string is not None
    assert loaded.connection_string.get_secret_value() == azurite_server.connection_string

    monkeypatch.setattr("sys.stdin", io.StringIO(f"client_secret={SECRET}\n"))
    assert main(["block", "create", "azure-blob-credentials", "half-sp",
                 "--set", f"account_url={URL}", "--set", "client_id=app"]) == 1
    captured = capsys.readouterr()
    assert "missing tenant_id" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert_no_secret(SECRET, captured.out, captured.err)
