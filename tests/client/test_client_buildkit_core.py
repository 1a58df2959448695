"""The BuildKit session's decisions without I/O: health bookkeeping, stream cadence, the endpoint wait.

Time is a fake clock the tests move by hand, so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import logging

import pytest

from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot.client import EndpointTimeoutError
from airflow_provider_depot.client._health import HealthMonitor
from airflow_provider_depot.client._session_core import EndpointWait, HealthCadence, SessionParams
from airflow_provider_depot.connect import Code, ConnectError

LABEL = "build b1 linux/amd64"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def params(*, interval: float = 5.0, warn_after: float = 60.0, timeout: float = 600.0) -> SessionParams:
    return SessionParams(
        build_id="b1",
        build_token="secret-build-token",
        platform=buildkit_pb2.PLATFORM_AMD64,
        health_interval=interval,
        health_warn_after=warn_after,
        timeout=timeout,
    )


def messages(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "airflow_provider_depot.client"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def monitor(clock: Clock) -> HealthMonitor:
    return HealthMonitor(label=LABEL, warn_after=60.0, clock=clock)


# ---- HealthMonitor: what counts as confirmed ----


def test_written_reports_are_not_confirmed_until_their_stream_is_answered(
    monitor: HealthMonitor, clock: Clock
) -> None:
    """A server that answers only at the end (a buffering proxy) must not look healthy meanwhile."""
    for _ in range(30):
        monitor.written()
        clock.advance(2.0)
    assert monitor.reports_written == 30 and monitor.last_written_at is not None
    assert not monitor.ok  # 60 s of writes, none confirmed


def test_an_ok_reply_confirms_the_stream_as_of_its_newest_report(
    monitor: HealthMonitor, clock: Clock
) -> None:
    clock.advance(50.0)
    monitor.written()
    clock.advance(5.0)
    monitor.written()
    monitor.stream_ended(None)
    clock.advance(59.0)  # 59 s after the newest report, 64 s after the older one
    assert monitor.ok
    clock.advance(1.0)
    assert not monitor.ok


def test_a_failed_stream_confirms_none_of_its_reports(
    monitor: HealthMonitor, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    monitor.written()
    monitor.stream_ended(None)  # confirmed at 0 s
    clock.advance(30.0)
    monitor.written()
    monitor.stream_ended(ConnectError(Code.UNAVAILABLE, "refused after reading it all"))
    clock.advance(30.0)
    assert not monitor.ok  # silence counts from 0 s, not from the refused report at 30 s
    assert messages(caplog) == [
        (
            logging.WARNING,
            f"Depot health report stream for {LABEL} failed (unavailable: refused after reading it all); "
            "reopening",
        )
    ]


def test_alarms_warn_once_per_outage_err_once_per_period_and_tell_when_confirmed_again(
    monitor: HealthMonitor, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(8):  # 8 failed streams, 10 s apart
        clock.advance(10.0)
        monitor.written()
        monitor.stream_ended(ConnectError(Code.INTERNAL, "malformed"))
    clock.advance(10.0)
    monitor.written()
    monitor.stream_ended(None)
    levels = [level for level, _ in messages(caplog)]
    assert levels == [logging.WARNING, logging.ERROR, logging.WARNING]
    error, resumed = messages(caplog)[1][1], messages(caplog)[2][1]
    assert error.startswith(f"No Depot health report confirmed for {LABEL} in 60 s;")
    assert resumed == f"Depot health reports for {LABEL} are confirmed again"
    assert monitor.ok


def test_an_ok_stream_without_reports_confirms_nothing(monitor: HealthMonitor, clock: Clock) -> None:
    monitor.written()
    monitor.stream_ended(None)
    clock.advance(40.0)
    monitor.stream_ended(None)  # nothing written on it
    clock.advance(20.0)
    assert not monitor.ok


# ---- HealthCadence: how long a stream lives, when the next opens ----


@pytest.mark.parametrize(
    ("interval", "warn_after", "reports"),
    [
        (5.0, 60.0, 3),  # the client's defaults: a stream every 15 s
        (10.0, 60.0, 1),  # the operator's defaults: warn_after / 4 holds a single interval
        (0.2, 60.0, 4),  # short intervals: never more than 4
        (1.0, 4.0, 1),  # the smallest warn_after allowed
        (0.3, 1.2, 1),  # 1.2 / (4 * 0.3) is a hair under 1 in floating point
    ],
)
def test_a_stream_carries_a_few_reports_spanning_at_most_a_quarter_of_warn_after(
    interval: float, warn_after: float, reports: int, monitor: HealthMonitor
) -> None:
    cadence = HealthCadence(params(interval=interval, warn_after=warn_after), monitor)
    assert cadence.reports == reports
    assert cadence.open() == warn_after / 2  # the stream's deadline
    assert [cadence.wrote() for _ in range(reports)] == [True] * (reports - 1) + [False]
    cadence.open()
    assert cadence.wrote() is (reports > 1)  # a new stream has its room again


def test_after_a_clean_close_the_next_stream_opens_when_the_next_report_is_due(
    monitor: HealthMonitor, clock: Clock
) -> None:
    cadence = HealthCadence(params(), monitor, clock=clock)
    cadence.open()
    cadence.wrote()
    clock.advance(0.25)  # the reply took a quarter of a second
    assert cadence.ended(None) == pytest.approx(4.75)
    clock.advance(10.0)
    assert cadence.ended(None) == 0.0  # already overdue: at once


def test_after_failures_the_next_stream_waits_the_backoff_reset_by_a_success(
    monitor: HealthMonitor, clock: Clock
) -> None:
    cadence = HealthCadence(params(), monitor, clock=clock)
    failure = ConnectError(Code.UNAVAILABLE, "down")
    cadence.open()
    assert [cadence.ended(failure) for _ in range(5)] == [0.5, 1.0, 2.0, 5.0, 5.0]
    cadence.wrote()
    cadence.ended(None)
    assert cadence.ended(failure) == 0.5


@pytest.mark.parametrize(("interval", "warn_after"), [(5.0, 20.0), (5.0, 60.0), (10.0, 60.0), (0.2, 60.0)])
def test_a_healthy_session_never_lets_its_newest_confirmed_report_age_past_a_quarter_of_warn_after(
    interval: float, warn_after: float, clock: Clock
) -> None:
    """Streams driven as the fronts drive them, each answered 0.1 s after its last report."""
    monitor = HealthMonitor(label=LABEL, warn_after=warn_after, clock=clock)
    cadence = HealthCadence(params(interval=interval, warn_after=warn_after), monitor, clock=clock)
    confirmed_at, worst = clock.now, 0.0
    for _ in range(10):
        cadence.open()
        while cadence.wrote():
            clock.advance(interval)
        last_report = clock.now
        clock.advance(0.1)
        worst = max(worst, clock.now - confirmed_at)  # the moment just before the reply
        pause = cadence.ended(None)
        confirmed_at = last_report
        assert monitor.ok
        clock.advance(pause)
    assert worst <= warn_after / 4 + 0.1 + 1e-9


# ---- EndpointWait: when GetEndpoint is asked again ----


def test_the_endpoint_request_marks_that_a_builder_may_be_held() -> None:
    wait = EndpointWait(params())
    assert not wait.requested
    request, timeout = wait.open()
    assert request == buildkit_pb2.GetEndpointRequest(build_id="b1", platform=buildkit_pb2.PLATFORM_AMD64)
    assert 0 < timeout <= 600.0
    assert wait.requested


def test_streams_ending_cleanly_or_worth_another_try_are_reopened_with_a_growing_pause() -> None:
    wait = EndpointWait(params())
    ended = [
        None,
        ConnectError(Code.UNAVAILABLE, "ReadError: connection reset"),
        ConnectError(Code.UNAVAILABLE, "HTTP 502"),
        ConnectError(Code.RESOURCE_EXHAUSTED, "slow down"),
        None,
    ]
    assert [wait.reopen_after(error) for error in ended] == [0.5, 1.0, 2.0, 5.0, 5.0]


def test_retry_after_is_honoured_unless_it_outlasts_the_timeout() -> None:
    wait = EndpointWait(params(timeout=600.0))
    assert wait.reopen_after(ConnectError(Code.RESOURCE_EXHAUSTED, "busy", retry_after=7.0)) == 7.0
    too_long = ConnectError(Code.RESOURCE_EXHAUSTED, "come back tomorrow", retry_after=86400.0)
    with pytest.raises(ConnectError) as raised:
        wait.reopen_after(too_long)
    assert raised.value is too_long


@pytest.mark.parametrize(
    "code",
    [Code.PERMISSION_DENIED, Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.UNAUTHENTICATED, Code.INTERNAL],
)
def test_other_codes_fail_at_once(code: Code) -> None:
    error = ConnectError(code, "no", rpc="BuildKitService/GetEndpoint")
    with pytest.raises(ConnectError) as raised:
        EndpointWait(params()).reopen_after(error)
    assert raised.value is error


def test_a_deadline_is_the_endpoint_timeout_naming_rpc_and_code() -> None:
    cause = ConnectError(Code.DEADLINE_EXCEEDED, "deadline of 1s exceeded (ReadTimeout)")
    with pytest.raises(EndpointTimeoutError) as raised:
        EndpointWait(params(timeout=1.0)).reopen_after(cause)
    assert raised.value.__cause__ is cause
    assert str(raised.value) == (
        f"BuildKitService/GetEndpoint: deadline_exceeded: Depot builder for {LABEL} not active within 1 s"
    )
    assert "secret-build-token" not in repr(raised.value)
