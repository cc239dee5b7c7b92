"""GcpCredentials: key sources, Application Default Credentials, endpoints, projects, secrecy."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.oauth2 import service_account
from pydantic import ValidationError
from stowflow.errors import BlockError, StorageAuthError
from stowflow.redact import redact
from stowflow.settings import get_settings
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.gcs import GcsServer
from stowflow_gcp import GcpCredentials


@pytest.fixture
def no_ambient_gcp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No emulator, no key file, no gcloud config, no metadata server: only what a test sets counts."""
    from google.auth.compute_engine import _metadata

    for var in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS",
                "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    # google-auth reads NO_GCE_CHECK once at import; set its flag so ADC discovery never
    # probes the GCE metadata server (traffic off 127.0.0.1).
    monkeypatch.setattr(_metadata, "_NO_GCE_CHECK", True)


def test_service_account_info_dict_becomes_secret_json(service_account_info: dict[str, Any]) -> None:
    block = GcpCredentials(service_account_info=service_account_info)
    assert json.loads(block.service_account_info.get_secret_value()) == service_account_info
    key = service_account_info["private_key"]
    # The whole key and its private key alone are both known to the redactor.
    assert redact(f"x {key} y") == "x *** y"
    assert_no_secret(key, repr(block), str(block), block.model_dump_json())


def test_service_account_key_gives_scoped_credentials_and_its_project(
        service_account_info: dict[str, Any], no_ambient_gcp: None) -> None:
    block = GcpCredentials(service_account_info=json.dumps(service_account_info))
    credentials = block.get_credentials()
    assert isinstance(credentials, service_account.Credentials)
    assert credentials.service_account_email == service_account_info["client_email"]
    assert "https://www.googleapis.com/auth/devstorage.full_control" in credentials.scopes
    assert not block.is_anonymous()
    assert block.resolve_project() == "key-project"


def test_key_file_is_read_on_use(service_account_info: dict[str, Any], tmp_path: Path,
                                 no_ambient_gcp: None) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(service_account_info))
    credentials = GcpCredentials(service_account_file=path).get_credentials()
    assert isinstance(credentials, service_account.Credentials)
    with pytest.raises(StorageAuthError, match="unusable"):
        GcpCredentials(service_account_file=tmp_path / "absent.json").get_credentials()


def test_empty_block_uses_application_default_credentials(
        service_account_info: dict[str, Any], tmp_path: Path, no_ambient_gcp: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StorageAuthError, match="no Google Cloud credentials") as missing:
        GcpCredentials().get_credentials()
    assert missing.value.hint and "application-default" in missing.value.hint

    path = tmp_path / "adc.json"
    path.write_text(json.dumps(service_account_info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    block = GcpCredentials()
    credentials = block.get_credentials()
    assert isinstance(credentials, service_account.Credentials)
    assert credentials.service_account_email == service_account_info["client_email"]
    assert block.resolve_project() == "key-project"  # the project ADC names


def test_both_key_sources_or_bad_json_are_refused(service_account_info: dict[str, Any],
                                                  tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not both"):
        GcpCredentials(service_account_info=service_account_info,
                       service_account_file=tmp_path / "k.json")
    with pytest.raises(BlockError, match="not valid JSON") as bad:
        GcpCredentials.coerce({"service_account_info": "{not json but secret-ish"})
    assert "secret-ish" not in str(bad.value)


def test_project_given_to_a_call_wins(service_account_info: dict[str, Any],
                                      emulator_credentials: GcpCredentials) -> None:
    assert emulator_credentials.get_storage_client().project == "stowflow-test"
    assert emulator_credentials.get_storage_client(project="step-project").project == "step-project"
    keyed = GcpCredentials(service_account_info=service_account_info, project="block-project")
    assert keyed.resolve_project() == "block-project"
    assert keyed.resolve_project("step-project") == "step-project"


def test_endpoint_from_field_or_emulator_variable(monkeypatch: pytest.MonkeyPatch,
                                                  service_account_info: dict[str, Any]) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    assert GcpCredentials().endpoint() is None
    assert not GcpCredentials().is_anonymous()

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:4443")
    assert GcpCredentials().endpoint() == "http://127.0.0.1:4443"
    assert isinstance(GcpCredentials().get_credentials(), AnonymousCredentials)
    field = GcpCredentials(api_endpoint="https://storage.internal.example/")
    assert field.endpoint() == "https://storage.internal.example"
    # A key, or anonymous=False, means the endpoint gets real credentials.
    assert not GcpCredentials(service_account_info=service_account_info).is_anonymous()
    assert not GcpCredentials(anonymous=False).is_anonymous()
    assert GcpCredentials(anonymous=True).is_anonymous()


def test_client_talks_to_the_emulator_with_a_sized_pool(
        gcs_server: GcsServer, gcs_bucket: str, emulator_credentials: GcpCredentials) -> None:
    client = emulator_credentials.get_storage_client(pool_size=32)
    adapter = client._http.get_adapter(gcs_server.endpoint)
    assert adapter._pool_maxsize == 32
    client.bucket(gcs_bucket).blob("hello").upload_from_string(b"hi")
    assert [b.name for b in client.list_blobs(gcs_bucket)] == ["hello"]


def test_saved_block_keeps_the_key_encrypted(service_account_info: dict[str, Any]) -> None:
    GcpCredentials(service_account_info=service_account_info, project="p").save("deployer")
    key = service_account_info["private_key"]
    database = get_settings().home / "stowflow.db"
    assert database.is_file()
    assert_no_secret(key, database)
    assert_no_secret(service_account_info["private_key_id"], database)
    loaded = GcpCredentials.load("deployer")
    assert json.loads(loaded.service_account_info.get_secret_value()) == service_account_info
    assert loaded.revealed_data()["service_account_info"] == json.dumps(service_account_info)


def test_coerce_accepts_a_block_its_data_or_nothing(service_account_info: dict[str, Any]) -> None:
    block = GcpCredentials(service_account_info=service_account_info, project="p")
    assert GcpCredentials.coerce(block) is block
    assert GcpCredentials.coerce(block.revealed_data()) == block
    assert GcpCredentials.coerce(None) == GcpCredentials()
    with pytest.raises(BlockError, match="no_such_field"):
        GcpCredentials.coerce({"no_such_field": 1})
    with pytest.raises(BlockError, match="got str"):
        GcpCredentials.coerce("a-token")  # type: ignore[arg-type]


def test_cli_creates_the_block_with_the_key_from_stdin(
        service_account_info: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from stowflow.cli.app import main

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(service_account_info)))
    assert main(["block", "create", "gcp-credentials", "deployer",
                 "--set", "project=my-project"]) == 0
    assert main(["block", "inspect", "gcp-credentials/deployer"]) == 0
    out = capsys.readouterr().out
    assert '"project": "my-project"' in out
    assert_no_secret(service_account_info["private_key"], out)
    loaded = GcpCredentials.load("deployer")
    assert json.loads(loaded.service_account_info.get_secret_value()) == service_account_info
