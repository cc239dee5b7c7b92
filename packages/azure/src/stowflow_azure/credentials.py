"""The ``AzureBlobCredentials`` block: how stowflow authenticates to Azure Blob Storage.

Exactly one of two ways in: a connection string (which carries the account key or a SAS
token), or an account URL with a token credential — a service principal when client id,
tenant id and client secret are all given, else ``DefaultAzureCredential`` (environment,
managed identity, Azure CLI, ...).
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
from typing import TYPE_CHECKING, Any, Self

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from stowflow.blocks import Block
from stowflow.errors import ConfigError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.storage.blob import BlobServiceClient

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
ACCOUNT_URL_ENV = "AZURE_STORAGE_ACCOUNT_URL"

#: Seconds to wait for a TCP connection, and for the next bytes of a response.
CONNECTION_TIMEOUT = 10.0
READ_TIMEOUT = 120.0
#: SDK-level retries. The sync engine retries transient failures itself, with backoff, so
#: the SDK's own retries stay few and quick: an unreachable endpoint fails in about a
#: second instead of the SDK's default ~80 s.
RETRY_TOTAL = 2
RETRY_CONNECT = 1
RETRY_INITIAL_BACKOFF = 0.5

#: The SDK logs every request and response at INFO; that would flood run logs (one entry
#: per object), so it goes to this logger, quiet unless a user sets its level.
HTTP_LOGGER = logging.getLogger("stowflow_azure.http")
if HTTP_LOGGER.level == logging.NOTSET:
    HTTP_LOGGER.setLevel(logging.WARNING)

_SERVICE_PRINCIPAL = ("client_id", "tenant_id", "client_secret")
_ACCOUNT_NAME = re.compile(r"(?:^|;)\s*AccountName=([^;]+)", re.IGNORECASE)
_BLOB_ENDPOINT = re.compile(r"(?:^|;)\s*BlobEndpoint=([^;]+)", re.IGNORECASE)


class AzureBlobCredentials(Block):
    """Credentials for Azure Blob Storage: a connection string, or an account URL.

    ``AzureBlobCredentials(connection_string="DefaultEndpointsProtocol=https;...")`` or
    ``AzureBlobCredentials(account_url="https://acct.blob.core.windows.net")`` (with
    ``client_id``, ``tenant_id`` and ``client_secret`` for a service principal).
    """

    __block_type_name__ = "Azure Blob Credentials"

    connection_string: SecretStr | None = Field(
        default=None,
        description="A storage account connection string (with AccountKey or "
        "SharedAccessSignature); stored encrypted. Give this or account_url, not both.",
    )
    account_url: str | None = Field(
        default=None,
        description="The account's blob endpoint, e.g. https://ACCOUNT.blob.core.windows.net; "
        "authenticated with a service principal or DefaultAzureCredential. "
        "Give this or connection_string, not both.",
    )
    client_id: str | None = Field(
        default=None,
        description="Service principal application (client) id; needs tenant_id and "
        "client_secret too, and account_url.",
    )
    tenant_id: str | None = Field(
        default=None,
        description="Service principal's Microsoft Entra tenant id; needs client_id and "
        "client_secret too, and account_url.",
    )
    client_secret: SecretStr | None = Field(
        default=None,
        description="Service principal client secret; stored encrypted. Needs client_id and "
        "tenant_id too, and account_url.",
    )

    @field_validator("connection_string", "account_url", "client_id", "tenant_id",
                     "client_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # templates and environment variables give "" for "not set"
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, SecretStr) and not value.get_secret_value().strip():
            return None
        return value

    @model_validator(mode="after")
    def _check_combination(self) -> Self:
        given = [name for name in _SERVICE_PRINCIPAL if getattr(self, name)]
        if self.connection_string and self.account_url:
            raise ValueError(
                "give exactly one of connection_string or account_url, not both"
            )
        if not self.connection_string and not self.account_url:
            raise ValueError(
                "give exactly one of connection_string or account_url; neither is set"
            )
        if self.connection_string and given:
            raise ValueError(
                f"{', '.join(given)} only go with account_url; a connection string carries "
                "its own key or SAS token"
            )
        if given and len(given) < len(_SERVICE_PRINCIPAL):
            missing = [name for name in _SERVICE_PRINCIPAL if name not in given]
            raise ValueError(
                "a service principal needs client_id, tenant_id and client_secret together; "
                f"missing {', '.join(missing)} (set none of them to use DefaultAzureCredential)"
            )
        if self.account_url is not None:
            parsed = urllib.parse.urlsplit(self.account_url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError(
                    "account_url must be an http(s) URL such as "
                    "https://ACCOUNT.blob.core.windows.net"
                )
            if parsed.query:
                # A SAS token in a plain field would be stored unencrypted.
                raise ValueError(
                    "account_url must not carry a query string (SAS token); use a "
                    "connection_string with BlobEndpoint=...;SharedAccessSignature=... instead"
                )
        return self

    @classmethod
    def from_environment(cls) -> Self:
        """Return credentials from ``AZURE_STORAGE_CONNECTION_STRING`` or ``AZURE_STORAGE_ACCOUNT_URL``.

        Used when a URL or step is given no credentials. The connection string wins when
        both are set; with the account URL, ``DefaultAzureCredential`` finds the identity
        (``AZURE_CLIENT_ID``/``AZURE_TENANT_ID``/``AZURE_CLIENT_SECRET``, managed identity,
        Azure CLI, ...). Raises :class:`~stowflow.errors.ConfigError` when neither is set.
        """
        connection_string = os.environ.get(CONNECTION_STRING_ENV)
        if connection_string:
            return cls(connection_string=SecretStr(connection_string))
        account_url = os.environ.get(ACCOUNT_URL_ENV)
        if account_url:
            return cls(account_url=account_url)
        raise ConfigError(
            "no Azure credentials were given and none are in the environment",
            hint=f"pass an AzureBlobCredentials block, or set {CONNECTION_STRING_ENV} or "
            f"{ACCOUNT_URL_ENV}",
        )

    @classmethod
    def ambient(cls) -> Self:
        """Return :meth:`from_environment`: a block with no fields reaches no account."""
        return cls.from_environment()

    @property
    def account_name(self) -> str:
        """The storage account's name (from the connection string or the account URL)."""
        if self.connection_string is not None:
            text = self.connection_string.get_secret_value()
            match = _ACCOUNT_NAME.search(text)
            if match:
                return match.group(1).strip()
            endpoint = _BLOB_ENDPOINT.search(text)
            if endpoint:
                return _account_from_url(endpoint.group(1).strip())
            if "usedevelopmentstorage=true" in text.replace(" ", "").lower():
                return "devstoreaccount1"  # the emulator shorthand
            return "unknown"
        assert self.account_url is not None
        return _account_from_url(self.account_url)

    def get_credential(self) -> TokenCredential | None:
        """Return the token credential for ``account_url``, or ``None`` for a connection string.

        A service principal (``ClientSecretCredential``) when all three of its fields are
        set, else ``DefaultAzureCredential``. ``azure-identity`` is imported only here.
        """
        if self.connection_string is not None:
            return None
        from azure.identity import ClientSecretCredential, DefaultAzureCredential

        if self.client_id and self.tenant_id and self.client_secret:
            return ClientSecretCredential(
                tenant_id=self.tenant_id,
                client_id=self.client_id,
                client_secret=self.client_secret.get_secret_value(),
            )
        return DefaultAzureCredential()

    def get_blob_service_client(self, max_concurrency: int = 16,
                                **client_options: Any) -> BlobServiceClient:
        """Return a ``BlobServiceClient`` whose connection pool holds ``max_concurrency`` connections.

        Timeouts and retries are short (see the module constants) so that an unreachable
        endpoint fails in seconds; per-request logging goes to :data:`HTTP_LOGGER`.
        ``client_options`` go to ``BlobServiceClient`` as they
        are (e.g. ``max_single_put_size``, ``max_block_size``, ``max_single_get_size``,
        ``connection_timeout``, ``read_timeout``, ``retry_policy``). The caller closes the
        client (it is a context manager).
        """
        from azure.storage.blob import BlobServiceClient, ExponentialRetry

        options: dict[str, Any] = {
            "connection_timeout": CONNECTION_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
            "logger": HTTP_LOGGER,
            **client_options,
        }
        options.setdefault("retry_policy", ExponentialRetry(
            initial_backoff=RETRY_INITIAL_BACKOFF, increment_base=2,  # type: ignore[arg-type]
            retry_total=RETRY_TOTAL, retry_connect=RETRY_CONNECT,
            random_jitter_range=0.2,  # type: ignore[arg-type]
        ))
        options.setdefault("transport", _pooled_transport(
            max_concurrency, options["connection_timeout"], options["read_timeout"]))
        if self.connection_string is not None:
            return BlobServiceClient.from_connection_string(
                self.connection_string.get_secret_value(), **options)
        assert self.account_url is not None
        return BlobServiceClient(self.account_url, credential=self.get_credential(), **options)


def _account_from_url(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or ""
    if host in ("127.0.0.1", "localhost") or host.replace(".", "").isdigit():
        # emulator style: http://127.0.0.1:10000/ACCOUNT
        return parsed.path.strip("/").split("/")[0] or host
    return host.split(".")[0]


def _pooled_transport(max_concurrency: int, connection_timeout: float,
                      read_timeout: float) -> Any:
    """Return a requests transport whose pool keeps ``max_concurrency`` connections per host."""
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session = requests.Session()
    # the SDK's retry policy retries; urllib3 must not retry underneath it
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(1, max_concurrency),
                          max_retries=Retry(total=False, redirect=False, raise_on_status=False))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return RequestsTransport(session=session, session_owner=True,
                             connection_timeout=connection_timeout, read_timeout=read_timeout)
