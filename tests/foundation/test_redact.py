"""The shared redactor masks every known secret, in its encodings, wherever it goes."""

from __future__ import annotations

import base64
import logging

import pytest
from stowflow.errors import StowflowError
from stowflow.redact import (
    MASK,
    RedactingFilter,
    redact,
    register_basic_auth,
    register_secret,
)


def test_plain_and_encoded_forms_are_masked():
    register_secret("p@ss/word+1")
    assert redact("x p@ss/word+1 y") == f"x {MASK} y"
    assert redact("url p%40ss%2Fword%2B1") == f"url {MASK}"


def test_basic_auth_header_value_is_masked():
    register_basic_auth("oauth2", "glpat-abcdef123")
    header = base64.b64encode(b"oauth2:glpat-abcdef123").decode()
    assert "glpat-abcdef123" not in redact(f"Authorization: Basic {header}")
    assert header not in redact(f"Authorization: Basic {header}")


def test_short_values_are_not_registered():
    register_secret("ab")
    assert redact("abc ab") == "abc ab"


def test_errors_redact_themselves():
    register_secret("tok-in-error-123")
    error = StowflowError("failed with tok-in-error-123", hint="retry tok-in-error-123")
    assert "tok-in-error-123" not in str(error)


def test_logging_filter_masks_arguments(caplog: pytest.LogCaptureFixture):
    register_secret("log-secret-456")
    logger = logging.getLogger("stowflow.test.redact")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="stowflow.test.redact"):
        logger.info("token is %s", "log-secret-456")
    assert "log-secret-456" not in caplog.text and MASK in caplog.text


def test_structured_data_is_redacted_all_the_way_down():
    from stowflow.redact import redact_data

    register_secret("nested-secret-789")
    data = {"packages": ["a", "--index-url https://u:nested-secret-789@h/simple"],
            "deep": {"k": ("nested-secret-789",)}, "n": 3}
    assert "nested-secret-789" not in repr(redact_data(data))
    assert redact_data(data)["n"] == 3


def test_secret_named_fields_are_masked_and_the_rest_kept():
    from stowflow.redact import MASKED, mask_secret_fields

    data = {"git_clone": {"repository": "https://github.com/o/r.git",
                          "access_token": "ghp_literal-not-registered"},
            "env": [{"DB_PASSWORD": "hunter2-literal", "page_token": "cursor-1",
                     "apiKey": "k-literal", "retries": 3, "token": None}],
            "credentials": {"aws_access_key_id": "AKIA1", "aws_secret_access_key": "s/k"},
            "kept": {"password": "{{ x }}"}}
    shown = mask_secret_fields(data, keep=lambda text: text.startswith("{{"))
    assert shown["git_clone"] == {"repository": "https://github.com/o/r.git",
                                  "access_token": MASKED}
    assert shown["env"] == [{"DB_PASSWORD": MASKED, "page_token": "cursor-1",
                             "apiKey": MASKED, "retries": 3, "token": None}]
    assert shown["credentials"] == {"aws_access_key_id": "AKIA1",
                                    "aws_secret_access_key": MASKED}
    assert shown["kept"] == {"password": "{{ x }}"}
