"""Blocks: save, load, delete, slugs, nested references, secrets encrypted at rest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import Field, SecretStr
from stowflow.blocks import Block, Secret
from stowflow.blocks.slugs import slugify
from stowflow.errors import (
    BlockAlreadyExistsError,
    BlockDataError,
    BlockError,
    BlockNotFoundError,
    BlockTypeNotFoundError,
    ConfigError,
    SecretDecryptionError,
)
from stowflow.redact import redact


class AwsLikeCredentials(Block):
    key_id: str = Field(description="An identifier.")
    secret: SecretStr = Field(description="A secret.")


class Bucketish(Block):
    bucket: str = Field(description="A bucket.")
    credentials: AwsLikeCredentials = Field(description="Nested credentials block.")


class GitHubThing(Block):
    __block_type_name__ = "GitHub Thing"
    token: SecretStr = Field(description="A token.")


def test_slugs_come_from_class_name_or_display_name():
    assert AwsLikeCredentials.get_block_type_slug() == "aws-like-credentials"
    assert GitHubThing.get_block_type_slug() == "github-thing"
    assert Secret.get_block_type_slug() == "secret"
    assert slugify("S3 Bucket") == "s3-bucket"


def test_secret_round_trip_and_generic_load():
    Secret(value="s3cr3t-value").save("tok")
    assert Secret.load("tok").get() == "s3cr3t-value"
    loaded = Block.load("secret/tok")
    assert isinstance(loaded, Secret) and loaded.get() == "s3cr3t-value"
    assert loaded.block_document_name == "tok"


def test_save_refuses_to_overwrite_unless_asked():
    Secret(value="first-value").save("tok")
    with pytest.raises(BlockAlreadyExistsError, match="already exists"):
        Secret(value="second-value").save("tok")
    Secret(value="second-value").save("tok", overwrite=True)
    assert Secret.load("tok").get() == "second-value"


def test_delete_then_load_says_not_found_with_a_hint():
    Secret(value="to-be-deleted").save("gone")
    Secret.load("gone").delete()
    with pytest.raises(BlockNotFoundError, match="no 'secret' block named 'gone'") as info:
        Secret.load("gone")
    assert info.value.hint and "stowflow block create" in info.value.hint


def test_nested_block_is_stored_as_a_reference(stowflow_home: Path):
    creds = AwsLikeCredentials(key_id="AKIA", secret=SecretStr("nested-secret-1"))
    creds.save("creds")
    Bucketish(bucket="b", credentials=AwsLikeCredentials.load("creds")).save("code")
    # Changing the referenced block changes what the outer block loads.
    AwsLikeCredentials(key_id="AKIA2", secret=SecretStr("nested-secret-2")).save(
        "creds", overwrite=True
    )
    loaded = Bucketish.load("code")
    assert loaded.credentials.key_id == "AKIA2"
    assert loaded.credentials.secret.get_secret_value() == "nested-secret-2"


def test_unsaved_nested_block_is_saved_anonymously():
    Bucketish(
        bucket="b", credentials=AwsLikeCredentials(key_id="K", secret=SecretStr("anon-secret"))
    ).save("code")
    assert Bucketish.load("code").credentials.secret.get_secret_value() == "anon-secret"


def test_database_file_never_holds_a_secret_in_plain_text(stowflow_home: Path):
    value = "plain-text-canary-8f2a91"
    Secret(value=value).save("canary")
    AwsLikeCredentials(key_id="id", secret=SecretStr(value + "-2")).save("c")
    from stowflow.db import dispose_engines

    dispose_engines()  # flush WAL into the main file too
    files = [p for p in stowflow_home.iterdir() if p.name.startswith("stowflow.db")]
    assert files
    for path in files:
        assert value.encode() not in path.read_bytes()


def test_block_saved_in_one_process_loads_in_another(stowflow_home: Path):
    Secret(value="cross-process-value").save("shared")
    code = "from stowflow.blocks import Secret; print(Secret.load('shared').get())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "cross-process-value"


def test_wrong_secret_key_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    from cryptography.fernet import Fernet

    monkeypatch.setenv("STOWFLOW_SECRET_KEY", Fernet.generate_key().decode())
    Secret(value="locked-value").save("k")
    monkeypatch.setenv("STOWFLOW_SECRET_KEY", Fernet.generate_key().decode())
    with pytest.raises(SecretDecryptionError, match="cannot be decrypted"):
        Secret.load("k")


def test_key_file_is_private(stowflow_home: Path):
    Secret(value="needs-a-key").save("k")
    assert (stowflow_home / "secret.key").stat().st_mode & 0o777 == 0o600


def test_loaded_secrets_are_redacted_everywhere():
    Secret(value="redact-me-please").save("r")
    Secret.load("r")
    assert redact("token=redact-me-please") == "token=***"


def test_generic_load_needs_slug_and_name():
    with pytest.raises(BlockError, match="type-slug/name"):
        Block.load("just-a-name")


def test_unknown_type_is_reported():
    with pytest.raises(BlockTypeNotFoundError, match="unknown block type 'nope'"):
        Block.load("nope/x")


def test_type_of_an_uninstalled_provider_names_the_distribution(stowflow_home: Path):
    # A fresh interpreter with the provider plugins hidden, as if stowflow-aws were absent
    # (in this process the class may already be imported by other tests).
    code = (
        "from stowflow.blocks import Block\n"
        "try:\n    Block.load('aws-credentials/x')\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    env = {**os.environ, "STOWFLOW_PLUGINS": "none-at-all"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out.startswith("MissingDistributionError")
    assert "pip install stowflow-aws" in out


def test_recorded_type_whose_module_is_gone_names_its_distribution():
    from stowflow.blocks import documents
    from stowflow.errors import MissingDistributionError

    documents.write_block_type("vanished", "Vanished", "stowflow_vanished.blocks",
                           "stowflow-vanished", {})
    with pytest.raises(MissingDistributionError, match="pip install stowflow-vanished"):
        Block.load("vanished/x")


def test_invalid_names_are_refused():
    with pytest.raises(BlockError, match="invalid block name"):
        Secret(value="abcd").save("a/b")


class Ambientish(Block):
    region: str = Field(default="eu", description="A region.")

    @classmethod
    def ambient(cls) -> Ambientish:
        return cls(region="from-environment")


def test_coerce_takes_a_block_its_data_or_nothing_and_names_fields_not_values():
    block = AwsLikeCredentials(key_id="id", secret=SecretStr("coerce-secret-value"))
    assert AwsLikeCredentials.coerce(block) is block
    assert AwsLikeCredentials.coerce(block.revealed_data()) == block
    assert Ambientish.coerce(None).region == "from-environment"  # a type's own ambient()
    with pytest.raises(BlockDataError) as bad:
        AwsLikeCredentials.coerce({"key_id": "id", "secret": 1234, "colour": "coerce-input"})
    text = str(bad.value)
    assert "invalid Aws Like Credentials" in text and "colour" in text and "secret" in text
    assert "coerce-input" not in text and "1234" not in text
    assert isinstance(bad.value, BlockError) and isinstance(bad.value, ConfigError)
    with pytest.raises(BlockDataError, match="got str") as wrong:
        AwsLikeCredentials.coerce("coerce-secret-value")  # type: ignore[arg-type]
    assert "stowflow.blocks.aws-like-credentials.NAME" in (wrong.value.hint or "")
    assert "coerce-secret-value" not in str(wrong.value)
