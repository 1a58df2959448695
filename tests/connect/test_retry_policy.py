"""The retry decision on its own: which failure, how many times, how long to pause."""

from __future__ import annotations

import email.utils
import ssl
import time

import httpx
import pytest

from airflow_provider_depot.connect import Code, ConnectError
from airflow_provider_depot.connect._retry import (
    RETRY_AFTER_MAX,
    RetryPolicy,
    certificate_rejected,
    never_sent,
    parse_retry_after,
)

POLICY = RetryPolicy(max_retries=3, backoff_base=0.5, backoff_max=4.0)


def pause(
    error: ConnectError,
    *,
    retries_done: int = 0,
    unsent: bool = False,
    idempotent: bool = True,
    remaining: float | None = None,
) -> float | None:
    return POLICY.pause(
        retries_done=retries_done, error=error, unsent=unsent, idempotent=idempotent, remaining=remaining
    )


@pytest.mark.parametrize("code", list(Code))
def test_reads_retry_only_unavailable_and_resource_exhausted(code: Code) -> None:
    retried = pause(ConnectError(code)) is not None
    assert retried is (code in (Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED))


@pytest.mark.parametrize("code", list(Code))
def test_mutations_retry_only_what_was_never_sent(code: Code) -> None:
    assert pause(ConnectError(code), idempotent=False) is None
    assert pause(ConnectError(code), idempotent=False, unsent=True) is not None


def test_attempts_are_bounded() -> None:
    error = ConnectError(Code.UNAVAILABLE)
    assert [pause(error, retries_done=n) is not None for n in range(5)] == [True, True, True, False, False]


def test_backoff_is_jittered_exponential_and_capped() -> None:
    error = ConnectError(Code.UNAVAILABLE)
    policy = RetryPolicy(max_retries=10, backoff_base=0.5, backoff_max=4.0)
    for retries_done, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        pauses = {
            policy.pause(
                retries_done=retries_done, error=error, unsent=False, idempotent=True, remaining=None
            )
            for _ in range(50)
        }
        assert all(p is not None and ceiling / 2 <= p <= ceiling for p in pauses)
        assert len(pauses) > 1  # jittered


def test_retry_after_replaces_the_backoff() -> None:
    error = ConnectError(Code.RESOURCE_EXHAUSTED, retry_after=2.5)
    assert pause(error) == 2.5
    assert pause(ConnectError(Code.UNAVAILABLE, retry_after=0.0)) == 0.0


def test_retry_after_longer_than_the_cap_is_final() -> None:
    assert pause(ConnectError(Code.UNAVAILABLE, retry_after=RETRY_AFTER_MAX + 1)) is None


def test_pause_must_fit_in_the_deadline() -> None:
    assert pause(ConnectError(Code.UNAVAILABLE, retry_after=3.0), remaining=2.9) is None
    assert pause(ConnectError(Code.UNAVAILABLE, retry_after=3.0), remaining=3.1) == 3.0
    assert pause(ConnectError(Code.UNAVAILABLE), remaining=0.0) is None


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-3") is None
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    parsed = parse_retry_after(in_a_minute)
    assert parsed is not None and 55 <= parsed <= 60
    assert parse_retry_after(email.utils.formatdate(time.time() - 60, usegmt=True)) == 0.0


def test_never_sent() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/x")
    assert never_sent(httpx.ConnectError("refused", request=request))
    assert never_sent(httpx.ConnectTimeout("slow", request=request))
    assert never_sent(httpx.PoolTimeout("busy", request=request))
    for after_sending in (httpx.ReadError, httpx.ReadTimeout, httpx.WriteError, httpx.RemoteProtocolError):
        assert not never_sent(after_sending("x", request=request))


def test_a_rejected_certificate_is_recognized_through_the_wrapping() -> None:
    request = httpx.Request("POST", "https://127.0.0.1/x")
    try:
        try:
            raise ssl.SSLCertVerificationError("certificate verify failed")
        except ssl.SSLError as exc:
            raise httpx.ConnectError("tls", request=request) from exc
    except httpx.ConnectError as wrapped:
        assert certificate_rejected(wrapped)
    assert not certificate_rejected(httpx.ConnectError("refused", request=request))
