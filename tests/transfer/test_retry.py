"""Retries: transient failures only, with capped exponential backoff and jitter."""

from __future__ import annotations

import pytest
from stowflow.errors import StorageAuthError, StorageNotFoundError, StorageTransientError
from stowflow.transfer.retry import backoff_delays, call_with_retry


def test_backoff_is_exponential_capped_and_jittered() -> None:
    assert backoff_delays(5, 0.1, 0.5, rand=lambda: 1.0) == [0.1, 0.2, 0.4, 0.5]
    assert backoff_delays(3, 0.1, 5, rand=lambda: 0.5) == [0.05, 0.1]
    assert backoff_delays(1, 0.1, 5) == []


def test_transient_errors_are_retried_until_success() -> None:
    calls, sleeps = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise StorageTransientError("s3://b: timeout reading 'k'")
        return "ok"

    assert call_with_retry(flaky, attempts=5, sleep=sleeps.append) == "ok"
    assert len(calls) == 3 and len(sleeps) == 2


def test_giving_up_says_so_and_chains_the_cause() -> None:
    def always() -> None:
        raise StorageTransientError("s3://b: 503 on 'k'")

    with pytest.raises(StorageTransientError, match="gave up after 3 attempts") as info:
        call_with_retry(always, attempts=3, sleep=lambda _: None)
    assert isinstance(info.value.__cause__, StorageTransientError)


@pytest.mark.parametrize("error", [StorageAuthError, StorageNotFoundError, ValueError])
def test_other_errors_are_not_retried(error: type[Exception]) -> None:
    calls = []

    def fail() -> None:
        calls.append(1)
        raise error("no")

    with pytest.raises(error):
        call_with_retry(fail, attempts=5, sleep=lambda _: None)
    assert calls == [1]
