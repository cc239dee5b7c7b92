"""One URL masker (``stowflow.redact.mask_url``) behind every message, log line and error.

Regression (issue 19 item 3/7): credentials in URLs reached output — userinfo in SDK
messages, query-string signatures (SAS ``sig=``, presigned ``X-Amz-Signature=``) that no
registered secret covered, ``--debug`` tracebacks and SDK log records (unfiltered: the
redacting filter sat on stowflow's logger only), and ``file://user:pw@//path`` displayed as
``file://tmp/…``. These tests fail on the old code.
"""

from __future__ import annotations

import logging
import urllib.parse
import uuid
from pathlib import Path

import pytest
from stowflow.cli import app
from stowflow.errors import StorageError
from stowflow.redact import mask_url, redact
from stowflow.testing import assert_no_secret


def planted() -> str:
    return f"Pl4nted{uuid.uuid4().hex[:12]}"


URL_FORMS = [
    # (template with {s} where the secret goes, the text that must remain)
    ("s3://AKIAEXAMPLE:{s}@bucket/prefix", "s3://AKIAEXAMPLE:***@bucket/prefix"),
    ("s3://AKIAEXAMPLE:{s}/x+y@bucket/prefix", "s3://AKIAEXAMPLE:***@bucket/prefix"),
    ("gs://user:{s}@bucket/p", "gs://user:***@bucket/p"),
    ("az://acct:{s}@container/p", "az://acct:***@container/p"),
    ("file://user:{s}@//tmp/code", "file://user:***@//tmp/code"),
    ("http://user:{s}@127.0.0.1:9000/bucket", "http://user:***@127.0.0.1:9000/bucket"),
    ("https://{s}@github.com/org/repo.git", "https://***@github.com/org/repo.git"),
    ("https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&se=2030&sp=r&sig={s}",
     "https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&se=2030&sp=r&sig=***"),
    ("https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential={s}%2F2026"
     "&X-Amz-Signature={s}", "X-Amz-Algorithm=AWS4&X-Amz-Credential=***&X-Amz-Signature=***"),
    ("https://storage.googleapis.com/b/o?X-Goog-Signature={s}&alt=media",
     "?X-Goog-Signature=***&alt=media"),
    ("http://127.0.0.1:8080/api?access_token={s}#frag", "?access_token=***#frag"),
]


@pytest.mark.parametrize(("template", "shown"), URL_FORMS)
def test_every_url_form_is_masked_and_otherwise_as_written(template: str, shown: str) -> None:
    secret = planted()
    url = template.format(s=secret)
    assert_no_secret(secret, mask_url(url))
    assert shown in mask_url(url)
    message = f"Could not connect to the endpoint URL: \"{url}\" (attempt 2)"
    assert_no_secret(secret, redact(message))
    assert shown in redact(message) and redact(message).endswith("(attempt 2)")


def test_urls_without_secrets_are_unchanged() -> None:
    for url in ("s3://bucket/a/b@c.txt", "http://host:9000/p/user@x", "ssh://git@github.com/o/r",
                "https://host/@scope/pkg?version=2&prefix=a", "file:///srv/code"):
        assert mask_url(url) == url
    assert redact("plain text with key=value and a?b") == "plain text with key=value and a?b"


def test_a_request_line_quoting_only_a_path_is_masked() -> None:
    secret = planted()
    line = f'http://127.0.0.1:5000 "GET /b/k?X-Amz-Signature={secret}&x=1 HTTP/1.1" 200 5'
    assert_no_secret(secret, redact(line))


def test_provider_errors_quoting_an_sdk_message_are_masked() -> None:
    secret = planted()
    error = StorageError(f"gs://b: get 'k' failed: HTTP 403: GET https://storage.googleapis"
                         f".com/b/k?token={secret}: denied")
    assert_no_secret(secret, str(error))


def test_a_file_url_with_userinfo_is_refused_and_displayed_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = planted()
    assert app.main(["storage", "versions", f"file://user:{secret}@/{tmp_path}/code"]) == 1
    err = capsys.readouterr().err
    assert_no_secret(secret, err)
    assert f"file://user:***@/{tmp_path}/code" in err.replace("\n", "")


@pytest.mark.parametrize("debug", [False, True])
def test_sdk_log_records_and_debug_tracebacks_are_masked(
    debug: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = planted()

    def build() -> object:
        logging.getLogger("botocore.endpoint").warning(
            "retrying http://user:%s@127.0.0.1:1/b?sig=%s", secret, secret)
        try:
            raise ConnectionError(f"GET https://h/k?X-Amz-Signature={secret} reset")
        except ConnectionError as exc:
            raise StorageError("s3://b: get 'k' failed") from exc

    monkeypatch.setattr(app, "build_app", build)
    root = logging.getLogger()
    handler = logging.StreamHandler()  # what basicConfig installs outside pytest
    root.addHandler(handler)
    try:
        assert app.main(["storage", "ls", *(["--debug"] if debug else [])]) == 1
    finally:
        root.removeHandler(handler)
    err = capsys.readouterr().err
    assert ("Traceback" in err) is debug and ("retrying http://user:***@" in err) is debug
    assert_no_secret(secret, err)


# --- which query parameters are secret: by name, precisely --------------------------------

#: Parameters that carry a credential in S3 presigned, GCS signed, Azure SAS, GCS session,
#: OAuth and API-key URLs.
SECRET_PARAMS = ["X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token",
                 "x-amz-security-token", "Signature", "AWSAccessKeyId", "X-Goog-Signature",
                 "X-Goog-Credential", "GoogleAccessId", "upload_id", "sig", "access_token",
                 "id_token", "refresh_token", "token", "client_secret", "password", "passwd",
                 "pwd", "api_key", "apiKey", "key", "X-Api-Key", "subscription-key", "code",
                 "private_token", "auth", "sessionid", "client_assertion", "sessionToken"]
#: Parameters that providers' own URLs and SDK messages carry and that are no secret.
HARMLESS_PARAMS = ["max-keys", "key-marker", "upload-id-marker", "uploadId", "encoding-type",
                   "X-Amz-SignedHeaders", "X-Amz-Algorithm", "X-Amz-Date", "X-Amz-Expires",
                   "X-Goog-Algorithm", "X-Goog-Date", "X-Goog-Expires", "X-Goog-SignedHeaders",
                   "Expires", "se", "st", "sv", "sp", "sr", "ss", "srt", "spr", "skoid", "comp",
                   "restype", "blockid", "continuation-token", "pageToken", "prefix",
                   "delimiter", "alt", "uploadType", "generation", "versionId", "list-type",
                   "status_code", "monkey", "keyword"]


@pytest.mark.parametrize("name", SECRET_PARAMS)
def test_every_secret_query_parameter_is_masked(name: str) -> None:
    secret = planted()
    url = f"https://host/b/k?a=1&{name}={secret}&b=2"
    assert mask_url(url) == f"https://host/b/k?a=1&{name}=***&b=2"
    assert_no_secret(secret, redact(f"GET /b/k?{name}={secret} HTTP/1.1"))


@pytest.mark.parametrize("name", HARMLESS_PARAMS)
def test_a_harmless_query_parameter_is_shown_as_written(name: str) -> None:
    # Regression: names *containing* key/sig/token/auth/code/session were masked
    # (max-keys, X-Amz-SignedHeaders, encoding-type, key-marker ...), which hid what an
    # error was about; these fail on the old code.
    url = f"https://host/b?{name}=value-1&x=2"
    assert mask_url(url) == url
    assert redact(f"failed: GET /b?{name}=value-1 HTTP/1.1") == f"failed: GET /b?{name}=value-1 HTTP/1.1"


def test_a_real_presigned_url_loses_only_its_signature_and_credential() -> None:
    botocore = pytest.importorskip("botocore.session")
    from botocore.config import Config

    secret_key = planted()
    client = botocore.get_session().create_client(
        "s3", region_name="eu-west-1", aws_access_key_id="AKIAPLANTED0000",
        aws_secret_access_key=secret_key, config=Config(signature_version="s3v4"))
    url = client.generate_presigned_url(
        "list_objects_v2", Params={"Bucket": "b", "Prefix": "p/", "MaxKeys": 5}, ExpiresIn=60)
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    shown = mask_url(url)
    for name, value in params.items():
        quoted = urllib.parse.quote(value, safe="")
        if name in ("X-Amz-Signature", "X-Amz-Credential"):
            assert f"{name}=***" in shown and quoted not in shown and value not in shown
        else:
            assert f"{name}={urllib.parse.quote(value, safe='-_.~')}" in shown or \
                f"{name}={value}" in shown, name
    assert "AKIAPLANTED0000" not in shown


def test_a_real_azure_sas_loses_only_its_sig() -> None:
    blob = pytest.importorskip("azure.storage.blob")
    import base64

    key = base64.b64encode(planted().encode() * 3).decode()
    token = blob.generate_blob_sas("acct", "c", "b.txt", account_key=key,
                                   permission=blob.BlobSasPermissions(read=True),
                                   expiry="2030-01-01T00:00:00Z")
    sig = next(part for part in token.split("&") if part.startswith("sig="))
    url = f"https://acct.blob.core.windows.net/c/b.txt?{token}"
    shown = mask_url(url)
    assert shown == url.replace(sig, "sig=***")
    assert shown != url and "se=2030-01-01T00%3A00%3A00Z" in shown
