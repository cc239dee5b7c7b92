"""``AwsCredentials``: the block that makes boto3 sessions and clients for AWS and S3-compatibles.

Every field is optional. What is left empty falls back to boto3's own chain (environment
variables, shared config and credentials files, SSO, container and instance roles), so an
empty block means "the ambient AWS identity". ``aws_client_parameters`` carries what an
S3-compatible store (MinIO, Ceph, moto, ...) needs: an endpoint, TLS verification,
addressing style and retries.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from stowflow.blocks import Block
from stowflow.errors import StorageAuthError
from stowflow.redact import register_secret

if TYPE_CHECKING:
    import boto3

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RETRY_MODE: Literal["standard"] = "standard"


class AwsRetries(BaseModel):
    """How botocore retries a failed request before the caller sees the error."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use

    max_attempts: int = Field(
        default=DEFAULT_MAX_ATTEMPTS, ge=1,
        description="Total attempts per request, the first included.",
    )
    mode: Literal["legacy", "standard", "adaptive"] = Field(
        default=DEFAULT_RETRY_MODE, description="botocore's retry mode.",
    )


class AwsClientParameters(BaseModel):
    """Client settings: endpoint, TLS verification, addressing style and retries.

    A field left ``None`` keeps botocore's default. :meth:`merged` lays one set of
    parameters over another, so a step's parameters can refine a block's.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use

    endpoint_url: str | None = Field(
        default=None,
        description="Endpoint of an S3-compatible store (MinIO, Ceph, ...), e.g. "
        "https://minio.internal:9000; empty for AWS itself.",
    )
    verify: bool | str | None = Field(
        default=None,
        description="TLS certificate check: true, false (not recommended), or the path of "
        "a CA bundle; empty for botocore's default (verify with the system CAs).",
    )
    addressing_style: Literal["auto", "virtual", "path"] | None = Field(
        default=None,
        description="S3 addressing style; 'path' suits most S3-compatible stores.",
    )
    retries: AwsRetries | None = Field(
        default=None,
        description="Retry policy (max_attempts, mode); empty for 3 attempts, standard mode.",
    )

    def merged(self, override: AwsClientParameters | dict[str, Any] | None) -> AwsClientParameters:
        """Return these parameters with every field that ``override`` sets laid on top."""
        if override is None:
            return self
        if isinstance(override, dict):
            override = AwsClientParameters.model_validate(override)
        return self.model_copy(update=override.model_dump(exclude_unset=True, exclude_none=True))

    def client_kwargs(self, *, max_pool_connections: int | None = None,
                      signed: bool = True) -> dict[str, Any]:
        """Return the keyword arguments of ``session.client(...)`` these parameters mean."""
        from botocore import UNSIGNED
        from botocore.config import Config

        retries = self.retries or AwsRetries()
        config: dict[str, Any] = {
            "retries": {"total_max_attempts": retries.max_attempts, "mode": retries.mode},
        }
        if self.addressing_style:
            config["s3"] = {"addressing_style": self.addressing_style}
        if max_pool_connections:
            config["max_pool_connections"] = max_pool_connections
        if not signed:
            config["signature_version"] = UNSIGNED
        if self.endpoint_url:
            # Many S3-compatible stores reject the CRC checksums botocore sends by default
            # since 1.36; the sync engine verifies sha256 of every file it pulls anyway.
            config["request_checksum_calculation"] = "when_required"
            config["response_checksum_validation"] = "when_required"
        kwargs: dict[str, Any] = {"config": Config(**config)}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        if self.verify is not None:
            kwargs["verify"] = self.verify
        return kwargs


class AwsCredentials(Block):
    """Credentials and client settings for AWS; empty fields use the ambient AWS chain."""

    __block_type_name__ = "AWS Credentials"

    aws_access_key_id: str | None = Field(
        default=None, description="Access key ID; empty to use the ambient AWS credentials.",
    )
    aws_secret_access_key: SecretStr | None = Field(
        default=None, description="Secret access key that goes with the access key ID.",
    )
    aws_session_token: SecretStr | None = Field(
        default=None, description="Session token of temporary credentials, if any.",
    )
    profile_name: str | None = Field(
        default=None, description="Named profile of the shared AWS config files to use.",
    )
    region_name: str | None = Field(
        default=None, description="AWS region, e.g. eu-west-1; empty for the ambient default.",
    )
    assume_role_arn: str | None = Field(
        default=None,
        description="ARN of a role to assume with these credentials before every operation.",
    )
    aws_client_parameters: AwsClientParameters = Field(
        default_factory=AwsClientParameters,
        description="Client settings for every call: endpoint URL, TLS verification, "
        "addressing style, retries.",
    )

    def get_boto3_session(self) -> boto3.Session:
        """Return a boto3 session for these credentials (assuming the role when one is set).

        Called once per operation (a push, a pull), so assumed-role credentials are fresh
        for each. Raises :class:`~stowflow.errors.StorageAuthError` when the role cannot be
        assumed.
        """
        import boto3

        session = boto3.Session(
            aws_access_key_id=self.aws_access_key_id or None,
            aws_secret_access_key=_reveal(self.aws_secret_access_key),
            aws_session_token=_reveal(self.aws_session_token),
            profile_name=self.profile_name or None,
            region_name=self.region_name or None,
        )
        if not self.assume_role_arn:
            return session
        return self._assumed_role_session(session)

    def _assumed_role_session(self, session: boto3.Session) -> boto3.Session:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        # STS is asked at the same endpoint: S3-compatible stores (MinIO, Ceph) serve it there.
        sts = session.client("sts", **self.aws_client_parameters.client_kwargs())
        try:
            found = sts.assume_role(
                RoleArn=self.assume_role_arn, RoleSessionName=f"stowflow-{uuid.uuid4().hex[:12]}"
            )["Credentials"]
        except ClientError as exc:
            raise StorageAuthError(
                f"could not assume role {self.assume_role_arn}: {' '.join(str(exc).split())}",
                hint="check the role's trust policy and the base credentials' sts:AssumeRole right",
            ) from exc
        except BotoCoreError as exc:
            from stowflow_aws._errors import raise_translated

            raise_translated(exc, "sts", f"assume role {self.assume_role_arn}")
        register_secret(found["SecretAccessKey"])
        register_secret(found["SessionToken"])
        return boto3.Session(
            aws_access_key_id=found["AccessKeyId"],
            aws_secret_access_key=found["SecretAccessKey"],
            aws_session_token=found["SessionToken"],
            region_name=session.region_name,
        )

    def get_client(self, service: str = "s3", *,
                   client_parameters: AwsClientParameters | dict[str, Any] | None = None,
                   max_pool_connections: int | None = None, signed: bool = True) -> Any:
        """Return a ready boto3 client for ``service``.

        ``client_parameters`` (a step's own settings) are laid over the block's
        ``aws_client_parameters`` field by field; ``max_pool_connections`` sizes the HTTP
        connection pool to the caller's concurrency; ``signed=False`` makes anonymous
        requests (public buckets).
        """
        params = self.aws_client_parameters.merged(client_parameters)
        kwargs = params.client_kwargs(max_pool_connections=max_pool_connections, signed=signed)
        return self.get_boto3_session().client(service, **kwargs)  # type: ignore[call-overload]


def _reveal(value: SecretStr | None) -> str | None:
    return (value.get_secret_value() or None) if value is not None else None
