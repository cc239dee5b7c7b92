"""Fixtures of the stowflow-gcp tests: credentials and stores on the session's fake-gcs-server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from stowflow.testing.servers.gcs import GcsServer
from stowflow_gcp import GcpCredentials, GcsObjectStore


@pytest.fixture
def emulator_credentials(gcs_server: GcsServer) -> GcpCredentials:
    """Credentials for the emulator: its endpoint, no key (so anonymous), its project."""
    return GcpCredentials(api_endpoint=gcs_server.endpoint, project=gcs_server.project)


@pytest.fixture
def store(gcs_bucket: str, emulator_credentials: GcpCredentials) -> Iterator[GcsObjectStore]:
    """A store on a fresh bucket, with small pages and chunks so paging and chunking happen."""
    with GcsObjectStore(gcs_bucket, emulator_credentials, page_size=3, chunk_size=256 * 1024,
                        resumable_threshold=512 * 1024, max_concurrency=8) as opened:
        yield opened


@pytest.fixture(scope="session")
def rsa_private_key_pem() -> str:
    """A real RSA private key in PEM form (made once per session: it takes a moment)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def service_account_info(rsa_private_key_pem: str, gcs_server: GcsServer) -> dict[str, Any]:
    """A well-formed service-account key whose token endpoint is the emulator (which refuses it)."""
    return {
        "type": "service_account",
        "project_id": "key-project",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": rsa_private_key_pem,
        "client_email": "deployer@key-project.iam.gserviceaccount.com",
        "client_id": "123456789012345678901",
        "token_uri": f"{gcs_server.endpoint}/token",
    }


@pytest.fixture
def sent_requests(store: GcsObjectStore) -> list[str]:
    """A list that fills with ``METHOD URL`` of every request the ``store`` fixture sends."""
    seen: list[str] = []

    def hook(response: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(f"{response.request.method} {response.request.url}")

    store._client._http.hooks["response"].append(hook)
    return seen
