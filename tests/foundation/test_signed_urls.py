"""Signed URLs end to end: a real S3 presigned URL and a real Azure SAS never print their
signature, whichever command meets them and whatever fails.

Regression (issue 19 item 3): the redactor masked credential-looking query parameters by
*word* (any name containing sig/token/key/auth/code/session), which hid harmless ones
(``max-keys``, ``key-marker``, ``X-Amz-SignedHeaders``) from error messages and missed real
ones (a GCS session's ``upload_id``, ``GoogleAccessId``); it now masks the parameters
signed URLs really carry, by name (``tests/foundation/test_url_masker.py`` tests both
directions). These tests run the CLI as a separate process (so ``--debug`` logging is as
a user gets it) and grep stdout and stderr for the signature; they pass on the old code
too, except that a push or pull with an account SAS on Azurite failed (a SAS-authorised
blob batch gets a bare HTTP 500 there, now a reason to delete blob by blob).
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from stowflow.testing import assert_no_secret
from stowflow.testing.conformance import write_tree


def cli(*args: str, env: dict[str, str] | None = None,
        debug: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``stowflow ARGS`` in a fresh process; its exit code, stdout and stderr."""
    argv = [sys.executable, "-m", "stowflow", *args, *(["--debug"] if debug else [])]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})}, check=False)


def query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def assert_silent(secret: str, run: subprocess.CompletedProcess[str]) -> None:
    assert_no_secret(secret, run.stdout, run.stderr)
    assert_no_secret(urllib.parse.quote(secret, safe=""), run.stdout, run.stderr)


#: botocore's two presigned forms: the query parameters of the signature and the credential.
PRESIGNED = {"s3v4": ("X-Amz-Signature", "X-Amz-Credential"),
             "s3": ("Signature", "AWSAccessKeyId")}


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("version", sorted(PRESIGNED))
def test_an_s3_presigned_url_never_prints_its_signature(
    version: str, debug: bool, s3_server: Any, tmp_path: Path,
) -> None:
    import boto3
    from botocore.config import Config

    bucket = s3_server.create_bucket()
    client = boto3.client("s3", config=Config(signature_version=version),
                          **s3_server.client_kwargs())
    client.put_object(Bucket=bucket, Key="proj/a.txt", Body=b"alpha")
    presigned = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "proj/a.txt"}, ExpiresIn=600)
    assert client.meta.endpoint_url and presigned.startswith(client.meta.endpoint_url)
    params = query(presigned)
    signature, credential = (params[name] for name in PRESIGNED[version])
    env = {"AWS_ACCESS_KEY_ID": s3_server.access_key_id,
           "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
           "AWS_DEFAULT_REGION": s3_server.region}
    base = urllib.parse.urlsplit(presigned)
    signed_endpoint = f"{base.scheme}://{base.netloc}/?{base.query}"
    runs = [
        cli("storage", "pull", presigned, str(tmp_path / "a"), debug=debug),
        cli("storage", "versions", presigned, debug=debug),
        # An endpoint that carries a signature (pasted from a presigned URL).
        cli("storage", "pull", f"s3://{bucket}/proj", str(tmp_path / "b"),
            "-o", f"endpoint_url={signed_endpoint}", env=env, debug=debug),
        cli("storage", "push", str(tmp_path), f"s3://{bucket}/other",
            "-o", f"endpoint_url={signed_endpoint}", env=env, debug=debug),
    ]
    for run in runs:
        assert run.returncode != 0
        assert_silent(signature, run)
        assert_silent(credential, run)
        assert "Error" in run.stderr and (("Traceback" in run.stderr) is debug)


@pytest.mark.parametrize("debug", [False, True])
def test_an_azure_sas_never_prints_its_signature(
    debug: bool, azurite_server: Any, tmp_path: Path,
) -> None:
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    container = azurite_server.create_container()
    expiry = datetime.now(UTC) + timedelta(hours=1)

    def sas(permission: AccountSasPermissions, expires: datetime = expiry) -> str:
        return generate_account_sas(
            azurite_server.account_name, azurite_server.account_key,
            resource_types=ResourceTypes(service=True, container=True, object=True),
            permission=permission, expiry=expires)

    def connection(token: str) -> dict[str, str]:
        return {"AZURE_STORAGE_CONNECTION_STRING":
                f"BlobEndpoint={azurite_server.blob_endpoint};SharedAccessSignature={token}"}

    write_tree(tmp_path / "src", {"flows/etl.py": b"print('etl')\n", "data/x.bin": b"x" * 5000})
    url = f"az://{container}/proj"
    full = sas(AccountSasPermissions(read=True, write=True, list=True, add=True, create=True,
                                     delete=True))
    read_only = sas(AccountSasPermissions(read=True, list=True))
    expired = sas(AccountSasPermissions(read=True, list=True),
                  datetime.now(UTC) - timedelta(hours=1))
    sas_url = (f"{azurite_server.blob_endpoint}/{container}/proj?{full}")

    pushed = cli("storage", "push", str(tmp_path / "src"), url, env=connection(full),
                 debug=debug)
    assert pushed.returncode == 0, pushed.stderr
    pulled = cli("storage", "pull", url, str(tmp_path / "dest"), env=connection(full),
                 debug=debug)
    assert pulled.returncode == 0, pulled.stderr
    assert (tmp_path / "dest" / "flows" / "etl.py").read_bytes() == b"print('etl')\n"
    (tmp_path / "src" / "flows" / "new.py").write_text("print('new')\n")
    failed = [
        cli("storage", "push", str(tmp_path / "src"), url, env=connection(read_only),
            debug=debug),
        cli("storage", "versions", url, env=connection(expired), debug=debug),
        cli("storage", "pull", sas_url, str(tmp_path / "other"), debug=debug),
    ]
    for run in failed:
        assert run.returncode != 0
        assert "Error" in run.stderr and (("Traceback" in run.stderr) is debug)
    for token in (full, read_only, expired):
        for run in (pushed, pulled, *failed):
            assert_silent(query(f"?{token}")["sig"], run)
