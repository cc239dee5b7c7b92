"""The ``GcpCredentials`` block: how stowflow authenticates to Google Cloud Storage.

Key material comes from ``service_account_info`` (the JSON key, stored encrypted) or
``service_account_file`` (a path on the machine that runs the step); with neither, the
Application Default Credentials of the environment are used. A custom endpoint (an
emulator such as fake-gcs-server, or a private endpoint) comes from ``api_endpoint`` or the
``STORAGE_EMULATOR_HOST`` environment variable; against an endpoint with no key given the
client is anonymous, as emulators expect.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from stowflow.blocks import Block
from stowflow.errors import StorageAuthError
from stowflow.redact import register_secret

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.cloud.storage import Client

#: The OAuth scope the storage client needs (read and write objects, manage buckets).
STORAGE_SCOPES = ("https://www.googleapis.com/auth/devstorage.full_control",)
EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
#: Fields of a service-account key that are secret on their own, not only as a whole.
_SECRET_KEY_FIELDS = ("private_key", "private_key_id")


class GcpCredentials(Block):
    """Credentials and endpoint for Google Cloud Storage.

    ``GcpCredentials()`` uses Application Default Credentials;
    ``GcpCredentials(service_account_info=json_text, project="p")`` a service-account key.
    """

    __block_type_name__ = "GCP Credentials"

    service_account_info: SecretStr | None = Field(
        default=None,
        description="A service-account key as JSON text (or a dict of it); stored encrypted.",
    )
    service_account_file: Path | None = Field(
        default=None,
        description="Path to a service-account key file on the machine that runs the step.",
    )
    project: str | None = Field(
        default=None,
        description="Default Google Cloud project; a project given to a step wins over it.",
    )
    api_endpoint: str | None = Field(
        default=None,
        description="Custom storage endpoint URL (an emulator or a private endpoint); "
        "STORAGE_EMULATOR_HOST is used when this is empty.",
    )
    anonymous: bool | None = Field(
        default=None,
        description="Send no credentials. Unset means: anonymous when a custom endpoint is "
        "used and no key is given (emulators), authenticated otherwise.",
    )

    _default_project: str | None = PrivateAttr(default=None)

    @field_validator("service_account_info", mode="before")
    @classmethod
    def _info_as_json_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return json.dumps(value)
        return value

    @field_validator("service_account_info")
    @classmethod
    def _info_is_a_key(cls, value: SecretStr | None) -> SecretStr | None:
        # A field validator, so the problem is this field's (a form shows it beside it).
        if value is not None:
            cls._parse_info(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _check_key_sources(self) -> GcpCredentials:
        if self.service_account_info is not None and self.service_account_file is not None:
            raise ValueError("give service_account_info or service_account_file, not both")
        if self.service_account_info is not None:
            info = self._parse_info(self.service_account_info.get_secret_value())
            for name in _SECRET_KEY_FIELDS:
                if isinstance(info.get(name), str):
                    register_secret(info[name])
        return self

    @staticmethod
    def _parse_info(text: str) -> dict[str, Any]:
        try:
            info = json.loads(text)
        except json.JSONDecodeError:
            # Never echo the text: it is a private key.
            raise ValueError("service_account_info is not valid JSON") from None
        if not isinstance(info, dict):
            raise ValueError("service_account_info must be a JSON object (a service-account key)")
        return info

    # --- what to talk to --------------------------------------------------------------

    def endpoint(self) -> str | None:
        """Return the custom endpoint URL in use (block field, else the emulator env var)."""
        endpoint = self.api_endpoint or os.environ.get(EMULATOR_ENV) or None
        if endpoint and "://" not in endpoint:
            endpoint = f"http://{endpoint}"  # STORAGE_EMULATOR_HOST is often host:port
        return endpoint.rstrip("/") if endpoint else None

    def is_anonymous(self) -> bool:
        """Return whether requests go without credentials (see the ``anonymous`` field)."""
        if self.anonymous is not None:
            return self.anonymous
        has_key = self.service_account_info is not None or self.service_account_file is not None
        return self.endpoint() is not None and not has_key

    def resolve_project(self, project: str | None = None) -> str | None:
        """Return the project to use: ``project`` if given, else the block's, else the key's.

        For Application Default Credentials, the project they name is known once
        :meth:`get_credentials` has run.
        """
        if project:
            return project
        if self.project:
            return self.project
        if self.service_account_info is not None:
            found = self._parse_info(self.service_account_info.get_secret_value()).get("project_id")
            return found if isinstance(found, str) else None
        return self._default_project

    # --- clients ----------------------------------------------------------------------

    def get_credentials(self) -> Credentials:
        """Return ready google-auth credentials, scoped for Cloud Storage.

        Anonymous credentials for an emulator; the service-account key when one is given;
        else Application Default Credentials. Raises
        :class:`~stowflow.errors.StorageAuthError` when the key is unusable or no default
        credentials exist.
        """
        from google.auth.credentials import AnonymousCredentials

        if self.is_anonymous():
            return AnonymousCredentials()  # type: ignore[no-untyped-call]
        from google.auth.exceptions import DefaultCredentialsError
        from google.oauth2 import service_account

        try:
            if self.service_account_info is not None:
                info = self._parse_info(self.service_account_info.get_secret_value())
                return service_account.Credentials.from_service_account_info(  # type: ignore[no-any-return, no-untyped-call]
                    info, scopes=STORAGE_SCOPES)
            if self.service_account_file is not None:
                return service_account.Credentials.from_service_account_file(  # type: ignore[no-any-return, no-untyped-call]
                    str(self.service_account_file), scopes=STORAGE_SCOPES)
            import google.auth

            credentials, project = google.auth.default(scopes=STORAGE_SCOPES)  # type: ignore[no-untyped-call]
            self._default_project = project
            return credentials  # type: ignore[no-any-return]
        except DefaultCredentialsError as exc:
            raise StorageAuthError(
                f"no Google Cloud credentials: {exc}",
                hint="set service_account_info or service_account_file on the GCP Credentials "
                "block, or run 'gcloud auth application-default login'",
            ) from exc
        except (ValueError, KeyError, OSError) as exc:
            # The SDK's messages here name fields and paths, never the key's contents.
            raise StorageAuthError(
                f"the service-account key is unusable: {type(exc).__name__}: {exc}",
                hint="use the JSON key file Google Cloud issued for the service account",
            ) from exc

    def get_storage_client(self, project: str | None = None, *,
                           pool_size: int | None = None) -> Client:
        """Return a ``google.cloud.storage.Client`` ready to use.

        :param project: the project for calls that need one; wins over the block's project
            (never silently replaced).
        :param pool_size: size of the HTTP connection pool (one connection per concurrent
            transfer); the requests default of 10 when ``None``.
        """
        from google.api_core.client_options import ClientOptions
        from google.auth.transport.requests import AuthorizedSession
        from google.cloud import storage
        from requests.adapters import HTTPAdapter

        credentials = self.get_credentials()
        session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        if pool_size:
            # Retries belong to the SDK's retry policy and the sync engine, not urllib3.
            adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size,
                                  max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        endpoint = self.endpoint()
        options = ClientOptions(api_endpoint=endpoint) if endpoint else None
        return storage.Client(
            project=self.resolve_project(project),
            credentials=credentials,
            _http=session,
            client_options=options,
        )
