"""AwsCredentials: saved encrypted, clients built from its settings, ambient fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from stowflow.blocks import Block
from stowflow.errors import ConfigError, StorageAuthError, StorageUnreachableError
from stowflow.redact import known_secrets
from stowflow.testing import assert_no_secret
from stowflow.testing.servers._process import free_port
from stowflow.testing.servers.s3 import S3AuthServer, S3Server, s3_auth_enforced
from stowflow_aws import AwsClientParameters, AwsCredentials, S3ObjectStore

AMBIENT = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
           "AWS_DEFAULT_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL",
           "AWS_ENDPOINT_URL_S3", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


@pytest.fixture
def no_ambient_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Hide the developer's own AWS settings; files point at empty paths."""
    for var in AMBIENT:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def test_secrets_are_secret_fields_and_encrypted_at_rest(stowflow_home: Path) -> None:
    secret, token = "s3cr3t-access-key-value", "session-token-value-123"
    AwsCredentials(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key=secret,
                   aws_session_token=token, region_name="eu-west-1",
                   aws_client_parameters={"endpoint_url": "http://127.0.0.1:9000",
                                          "addressing_style": "path"}).save("prod")
    assert set(AwsCredentials.secret_field_names()) == {"aws_secret_access_key",
                                                        "aws_session_token"}
    assert_no_secret(secret, stowflow_home)
    assert_no_secret(token, stowflow_home)
    assert {secret, token} <= known_secrets()

    loaded = Block.load("aws-credentials/prod")
    assert isinstance(loaded, AwsCredentials)
    assert loaded.aws_secret_access_key == SecretStr(secret)
    assert loaded.aws_client_parameters.addressing_style == "path"
    assert secret not in repr(loaded)
    assert loaded.revealed_data()["aws_secret_access_key"] == secret


def test_client_uses_every_client_parameter() -> None:
    block = AwsCredentials(
        aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x" * 20, region_name="eu-west-1",
        aws_client_parameters=AwsClientParameters(
            endpoint_url="https://minio.example.internal:9000", verify=False,
            addressing_style="path", retries={"max_attempts": 7, "mode": "adaptive"},
        ),
    )
    client = block.get_client("s3", max_pool_connections=24)
    assert client.meta.endpoint_url == "https://minio.example.internal:9000"
    assert client.meta.region_name == "eu-west-1"
    config = client.meta.config
    assert config.s3 == {"addressing_style": "path"}
    assert config.retries == {"total_max_attempts": 7, "mode": "adaptive"}
    assert config.max_pool_connections == 24
    assert config.request_checksum_calculation == "when_required"
    assert client._endpoint.http_session._verify is False
    bundle = AwsCredentials(aws_client_parameters={"verify": "/etc/ssl/internal-ca.pem"},
                            region_name="eu-west-1")
    assert bundle.get_client("s3")._endpoint.http_session._verify == "/etc/ssl/internal-ca.pem"


def test_step_parameters_refine_the_blocks_field_by_field() -> None:
    base = AwsClientParameters(endpoint_url="http://block:9000", addressing_style="path")
    merged = base.merged({"endpoint_url": "http://step:9000"})
    assert (merged.endpoint_url, merged.addressing_style) == ("http://step:9000", "path")
    assert base.merged(None) is base
    assert base.merged({}).endpoint_url == "http://block:9000"
    default = AwsClientParameters().client_kwargs()
    assert "endpoint_url" not in default and "verify" not in default
    assert default["config"].retries == {"total_max_attempts": 3, "mode": "standard"}


def test_empty_block_uses_the_ambient_environment(
    no_ambient_aws: pytest.MonkeyPatch, s3_server: S3Server, s3_bucket: str
) -> None:
    no_ambient_aws.setenv("AWS_ACCESS_KEY_ID", "testing")
    no_ambient_aws.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    no_ambient_aws.setenv("AWS_DEFAULT_REGION", "us-east-1")
    no_ambient_aws.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    session = AwsCredentials().get_boto3_session()
    assert session.get_credentials().access_key == "testing"
    with S3ObjectStore(s3_bucket) as store:  # no credentials at all: the ambient chain
        store.put("ambient", b"ok")
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="ambient")["Body"].read() == b"ok"


def test_profile_name_reads_the_shared_files(no_ambient_aws: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    credentials_file = tmp_path / "credentials"
    credentials_file.write_text("[build]\naws_access_key_id = AKIAPROFILE\n"
                                "aws_secret_access_key = profile-secret-value\n")
    config_file = tmp_path / "config"
    config_file.write_text("[profile build]\nregion = ap-southeast-2\n")
    no_ambient_aws.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_file))
    no_ambient_aws.setenv("AWS_CONFIG_FILE", str(config_file))
    session = AwsCredentials(profile_name="build").get_boto3_session()
    assert session.get_credentials().access_key == "AKIAPROFILE"
    assert session.region_name == "ap-southeast-2"


def test_unknown_profile_is_an_auth_error(no_ambient_aws: pytest.MonkeyPatch) -> None:
    with pytest.raises(StorageAuthError, match=r"s3://b: create client failed: The config profile \(nope\) could not be found"):
        S3ObjectStore("b", credentials=AwsCredentials(profile_name="nope"))


def test_no_credentials_anywhere_is_an_auth_error(no_ambient_aws: pytest.MonkeyPatch,
                                                  s3_server: S3Server) -> None:
    block = AwsCredentials(region_name="us-east-1",
                           aws_client_parameters={"endpoint_url": s3_server.endpoint_url})
    with S3ObjectStore("any-bucket", credentials=block) as store, pytest.raises(
        StorageAuthError, match="Unable to locate credentials"
    ) as caught:
        list(store.list("x/"))
    assert "give an AwsCredentials block" in str(caught.value)


def test_assume_role_uses_temporary_credentials(s3_server: S3Server, s3_bucket: str) -> None:
    block = AwsCredentials(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1",
        assume_role_arn="arn:aws:iam::123456789012:role/deployer",
        aws_client_parameters={"endpoint_url": s3_server.endpoint_url},
    )
    session = block.get_boto3_session()
    temporary = session.get_credentials()
    assert temporary.access_key != "testing" and temporary.token
    assert {temporary.secret_key, temporary.token} <= known_secrets()  # redacted everywhere
    with S3ObjectStore(s3_bucket, credentials=block) as store:
        store.put("assumed", b"ok")
        assert store.get_bytes("assumed") == b"ok"


def test_assume_role_failures(s3_auth_server: S3AuthServer) -> None:
    role = "arn:aws:iam::123456789012:role/deployer"
    key_id, secret = s3_auth_server.create_user({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
    })

    def block(endpoint: str) -> AwsCredentials:
        return AwsCredentials(aws_access_key_id=key_id, aws_secret_access_key=secret,
                              region_name="us-east-1", assume_role_arn=role,
                              aws_client_parameters={"endpoint_url": endpoint,
                                                     "retries": {"max_attempts": 1}})

    with s3_auth_enforced(s3_auth_server), pytest.raises(StorageAuthError) as caught:
        block(s3_auth_server.endpoint_url).get_boto3_session()  # no sts:AssumeRole right
    assert str(caught.value).startswith(f"could not assume role {role}: ")
    assert "AccessDenied" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(StorageUnreachableError, match="sts: assume role arn:aws:iam::"):
        block(f"http://127.0.0.1:{free_port()}").get_boto3_session()
    with s3_auth_enforced(s3_auth_server), pytest.raises(StorageAuthError,
                                                         match="could not assume role"):
        S3ObjectStore("any", credentials=block(s3_auth_server.endpoint_url))


def test_credentials_arrive_as_block_dict_or_nothing() -> None:
    block = AwsCredentials(aws_access_key_id="AKIAEXAMPLE")
    assert AwsCredentials.coerce(block) is block
    from_dict = AwsCredentials.coerce({"aws_access_key_id": "AKIAEXAMPLE",
                                    "aws_secret_access_key": "dict-secret-value",
                                    "aws_client_parameters": {"endpoint_url": "http://x:1"}})
    assert from_dict.aws_client_parameters.endpoint_url == "http://x:1"
    assert AwsCredentials.coerce(None) == AwsCredentials()
    with pytest.raises(ConfigError) as caught:
        AwsCredentials.coerce({"aws_secret_access_key": 12345678, "colour": "blue-secret"})
    assert "colour" in str(caught.value) and "blue-secret" not in str(caught.value)
    with pytest.raises(ConfigError, match="got str"):
        AwsCredentials.coerce("AKIA...")  # type: ignore[arg-type]


def test_cli_creates_the_block_with_secrets_from_stdin(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from stowflow.cli.app import main

    secret = "cli-secret-value-0042"
    monkeypatch.setattr("sys.stdin", io.StringIO(f"aws_secret_access_key={secret}\n"))
    assert main(["block", "create", "aws-credentials", "from-cli",
                 "--set", "aws_access_key_id=AKIACLI",
                 "--set", 'aws_client_parameters={"endpoint_url": "http://127.0.0.1:9000", '
                          '"addressing_style": "path"}']) == 0
    loaded = AwsCredentials.load("from-cli")
    assert loaded.aws_secret_access_key == SecretStr(secret)
    assert loaded.aws_client_parameters.endpoint_url == "http://127.0.0.1:9000"
    assert main(["block", "inspect", "aws-credentials/from-cli"]) == 0
    assert_no_secret(secret, capsys.readouterr().out)
    assert main(["block", "create", "aws-credentials", "refused",
                 "--set", f"aws_secret_access_key={secret}"]) == 1
