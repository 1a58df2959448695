"""BuildKit sessions against the fake server: active, health, release on every way out."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import stat
from pathlib import Path
from typing import Any

import pytest
from fake_depot import BUILD_TOKEN, CA_PEM, CERT_PEM, KEY_PEM, FakeDepot, Front, eventually, wait_for

from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot.client import AsyncDepotClient, BuildKitSession, DepotClient, EndpointTimeoutError
from airflow_provider_depot.connect import Code, ConnectError

GET_ENDPOINT = "/depot.buildkit.v1.BuildKitService/GetEndpoint"
REPORT_HEALTH = "/depot.buildkit.v1.BuildKitService/ReportHealth"
RELEASE = "/depot.buildkit.v1.BuildKitService/ReleaseEndpoint"
FAST = {"build_id": "b1", "build_token": BUILD_TOKEN, "health_interval": 0.05}


def assert_released_once(depot: FakeDepot, platform: int = buildkit_pb2.PLATFORM_AMD64) -> None:
    assert depot.released == [buildkit_pb2.ReleaseEndpointRequest(build_id="b1", platform=platform)]


def assert_health_streams_closed(depot: FakeDepot) -> None:
    """Every ReportHealth stream the session opened was answered OK (the last one on the way out)."""
    opened = depot.paths().count(REPORT_HEALTH)
    assert opened >= 1
    assert depot.health_streams_closed == opened


def client_log(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "airflow_provider_depot.client"]


def assert_token_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records, "the session should have logged something"
    for record in caplog.records:
        assert BUILD_TOKEN not in record.getMessage()
        assert BUILD_TOKEN not in str(record.exc_info or "")


@pytest.fixture(autouse=True)
def _log_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


async def test_session_reaches_active_reports_health_and_releases(
    front: Front, depot: FakeDepot, caplog: pytest.LogCaptureFixture
) -> None:
    depot.pending_before_active = 3
    async with front.session(platform="linux/arm64", **FAST) as session:
        assert session.endpoint == "tcp://127.0.0.1:7777"
        assert session.host_port == "127.0.0.1:7777"
        assert session.server_name == "buildkit.depot.test"
        assert (session.ca_cert, session.cert, session.key) == (CA_PEM, CERT_PEM, KEY_PEM)
        assert session.platform == "linux/arm64"
        await wait_for(depot, lambda: len(depot.health) >= 3)
        await eventually(lambda: session.health_reports_sent >= 3)  # counted once the write returns
        assert session.health_ok and session.last_health_at is not None
        assert depot.released == []
    want = buildkit_pb2.ReportHealthRequest(build_id="b1", platform=buildkit_pb2.PLATFORM_ARM64)
    assert set(map(bytes, (m.SerializeToString() for m in depot.health))) == {want.SerializeToString()}
    assert_health_streams_closed(depot)
    assert_released_once(depot, buildkit_pb2.PLATFORM_ARM64)
    assert session.released
    get_endpoint = depot.requests[0]
    assert get_endpoint.path == GET_ENDPOINT
    assert get_endpoint.messages == [
        buildkit_pb2.GetEndpointRequest(build_id="b1", platform=buildkit_pb2.PLATFORM_ARM64)
    ]
    assert {seen.authorization for seen in depot.requests} == {f"Bearer {BUILD_TOKEN}"}
    assert_token_not_logged(caplog)
    with pytest.raises(RuntimeError, match="not active"):
        session.endpoint  # noqa: B018


async def test_exception_in_the_block_still_releases(
    front: Front, depot: FakeDepot, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ZeroDivisionError):
        async with front.session(**FAST) as session:
            credentials = session.write_credentials()
            await wait_for(depot, lambda: len(depot.health) >= 1)
            1 / 0  # noqa: B018
    assert_health_streams_closed(depot)
    assert_released_once(depot)
    assert not credentials.directory.exists()
    assert_token_not_logged(caplog)


async def test_credentials_are_private_files_removed_on_exit(front: Front, depot: FakeDepot) -> None:
    async with front.session(**FAST) as session:
        credentials = session.write_credentials()
        assert session.write_credentials() is credentials
        assert stat.S_IMODE(os.stat(credentials.directory).st_mode) == 0o700
        files = {credentials.ca_cert: CA_PEM, credentials.cert: CERT_PEM, credentials.key: KEY_PEM}
        assert sorted(p.name for p in credentials.directory.iterdir()) == sorted(p.name for p in files)
        for path, text in files.items():
            assert path.parent == credentials.directory
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            assert path.read_text() == text
    assert not credentials.directory.exists()


async def test_plain_tcp_endpoint_has_no_credentials(front: Front, depot: FakeDepot) -> None:
    depot.endpoint_tls = False
    async with front.session(**FAST) as session:
        assert session.host_port == "127.0.0.1:7777"
        with pytest.raises(RuntimeError, match="no TLS credentials"):
            session.write_credentials()
    assert_released_once(depot)


async def test_stream_ending_before_active_is_reopened(front: Front, depot: FakeDepot) -> None:
    depot.streams_without_active = 1
    async with front.session(**FAST) as session:
        assert session.endpoint == "tcp://127.0.0.1:7777"
    assert depot.paths().count(GET_ENDPOINT) == 2
    assert_released_once(depot)


async def test_stream_failing_after_pending_with_a_retryable_code_is_reopened(
    front: Front, depot: FakeDepot, caplog: pytest.LogCaptureFixture
) -> None:
    """A reset or a proxy's 502 mid-stream is ``unavailable`` too; asking again is harmless."""
    depot.endpoint_errors = [
        ConnectError(Code.UNAVAILABLE, "the proxy cut the stream"),
        ConnectError(Code.RESOURCE_EXHAUSTED, "too many builders booting"),
    ]
    async with front.session(**FAST) as session:
        assert session.endpoint == "tcp://127.0.0.1:7777"
    assert depot.paths().count(GET_ENDPOINT) == 3
    assert_released_once(depot)
    reopened = [text for level, text in client_log(caplog) if level == logging.WARNING]
    assert any("GetEndpoint: unavailable: the proxy cut the stream); reopening" in t for t in reopened)
    assert_token_not_logged(caplog)


@pytest.mark.parametrize(
    "code", [Code.PERMISSION_DENIED, Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.INTERNAL]
)
async def test_stream_failing_with_another_code_fails_at_once(
    front: Front, depot: FakeDepot, code: Code
) -> None:
    depot.endpoint_errors = [ConnectError(code, "refused")]
    with pytest.raises(ConnectError) as raised:
        async with front.session(**FAST):
            pytest.fail("the block must not run")
    assert raised.value.code is code
    assert str(raised.value) == f"BuildKitService/GetEndpoint: {code.value}: refused"
    assert depot.paths().count(GET_ENDPOINT) == 1
    assert REPORT_HEALTH not in depot.paths()
    assert_released_once(depot)  # a builder may have been held since the request went out


async def test_timeout_waiting_for_active_names_rpc_and_code_and_releases(
    front: Front, depot: FakeDepot, caplog: pytest.LogCaptureFixture
) -> None:
    depot.endpoint_active = False
    with pytest.raises(EndpointTimeoutError) as raised:
        async with front.session(timeout=0.3, **FAST):
            pytest.fail("the block must not run")
    error = raised.value
    assert str(error) == (
        "BuildKitService/GetEndpoint: deadline_exceeded: "
        "Depot builder for build b1 linux/amd64 not active within 0.3 s"
    )
    assert isinstance(error, TimeoutError) and isinstance(error, ConnectError)
    assert (error.code, error.rpc) == (Code.DEADLINE_EXCEEDED, "BuildKitService/GetEndpoint")
    copy = pickle.loads(pickle.dumps(error))  # Airflow ships task errors between processes
    assert type(copy) is EndpointTimeoutError and str(copy) == str(error)
    assert BUILD_TOKEN not in str(error) and BUILD_TOKEN not in repr(error.__cause__)
    assert REPORT_HEALTH not in depot.paths()
    assert_released_once(depot)
    assert_token_not_logged(caplog)


async def test_broken_health_stream_is_logged_loudly_and_reopened(
    front: Front, depot: FakeDepot, caplog: pytest.LogCaptureFixture
) -> None:
    depot.health_error = ConnectError(Code.UNAVAILABLE, "health service down")
    async with front.session(health_warn_after=1.0, **FAST) as session:
        await wait_for(depot, lambda: depot.paths().count(REPORT_HEALTH) >= 3)
        await asyncio.to_thread(
            depot.wait_for, lambda: any(r.levelno == logging.ERROR for r in caplog.records)
        )
        assert not session.health_ok
    ours = client_log(caplog)
    # the server's error, or (async httpx reads the reply only after a failed write) the broken read
    failure = "Depot health report stream for build b1 linux/amd64 failed (unavailable: "
    assert any(level == logging.WARNING and text.startswith(failure) for level, text in ours)
    assert any(level == logging.ERROR and "No Depot health report confirmed" in text for level, text in ours)
    assert_released_once(depot)
    assert_token_not_logged(caplog)


async def test_health_streams_are_short_and_one_at_a_time(front: Front, depot: FakeDepot) -> None:
    """health_warn_after 0.45 s at 0.05 s intervals: two reports fit in a stream (at most warn_after / 4)."""
    async with front.session(health_warn_after=0.45, **FAST) as session:
        await wait_for(depot, lambda: depot.health_streams_closed >= 3)
        assert session.health_ok
    assert max(depot.health_stream_sizes) == 2
    assert depot.health_open_max == 1
    assert_health_streams_closed(depot)


async def test_health_stream_answered_only_at_its_end_is_noticed_and_reopened(
    front: Front, depot: FakeDepot, caplog: pytest.LogCaptureFixture
) -> None:
    """The server reads the whole stream, then refuses it: nothing it carried counts as delivered."""
    depot.health_errors_at_end = [ConnectError(Code.UNAVAILABLE, "behind a buffering proxy")]
    async with front.session(**FAST) as session:
        await wait_for(depot, lambda: depot.health_streams_closed >= 1)
        await eventually(lambda: any("confirmed again" in text for _, text in client_log(caplog)))
        assert session.health_ok
    warnings = [text for level, text in client_log(caplog) if level == logging.WARNING]
    assert warnings[0] == (
        "Depot health report stream for build b1 linux/amd64 failed (unavailable: behind a buffering "
        "proxy); reopening"
    )
    assert depot.health  # the reopened streams' reports reached the server
    assert_released_once(depot)


async def test_health_never_confirmed_turns_health_ok_false(
    front: Front, depot: FakeDepot, caplog: pytest.LogCaptureFixture
) -> None:
    """Every report written, none answered OK: the session must not take them for delivered."""
    depot.health_errors_at_end = [ConnectError(Code.UNAVAILABLE, "behind a buffering proxy")] * 1000
    async with front.session(health_warn_after=0.45, **FAST) as session:
        await eventually(lambda: not session.health_ok)
        assert session.health_reports_sent > 0
        await eventually(lambda: any(level == logging.ERROR for level, _ in client_log(caplog)))
    assert not depot.health
    assert_released_once(depot)
    assert_token_not_logged(caplog)


async def test_failed_release_is_logged_not_raised(
    front: Front, depot: FakeDepot, caplog: pytest.LogCaptureFixture
) -> None:
    depot.replies[RELEASE] = ConnectError(Code.INTERNAL, "release broke")
    async with front.session(**FAST) as session:
        pass
    assert not session.released
    assert any(r.levelno == logging.ERROR and "release broke" in r.getMessage() for r in caplog.records)
    assert_token_not_logged(caplog)


def test_sync_session_releases_on_keyboard_interrupt(depot: FakeDepot, server_url: str) -> None:
    with DepotClient(token="org", base_url=server_url) as client:
        session = client.buildkit.session(**FAST)
        assert isinstance(session, BuildKitSession)
        with pytest.raises(KeyboardInterrupt), session:
            depot.wait_for(lambda: len(depot.health) >= 2)
            raise KeyboardInterrupt
    assert_health_streams_closed(depot)
    assert_released_once(depot)


async def test_async_session_releases_when_its_task_is_cancelled(depot: FakeDepot, server_url: str) -> None:
    async with AsyncDepotClient(token="org", base_url=server_url) as client:
        credentials: list[Path] = []

        async def build() -> None:
            async with client.buildkit.session(**FAST) as session:
                credentials.append(session.write_credentials().directory)
                await asyncio.Event().wait()  # until cancelled

        task = asyncio.create_task(build())
        await wait_for(depot, lambda: len(depot.health) >= 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert_health_streams_closed(depot)
    assert_released_once(depot)
    assert not credentials[0].exists()


async def test_async_cancel_while_waiting_for_active_releases(depot: FakeDepot, server_url: str) -> None:
    depot.endpoint_active = False
    async with AsyncDepotClient(token="org", base_url=server_url) as client:
        task: asyncio.Task[Any] = asyncio.create_task(client.buildkit.session(**FAST).__aenter__())
        await wait_for(depot, lambda: GET_ENDPOINT in depot.paths())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert REPORT_HEALTH not in depot.paths()
    assert_released_once(depot)


async def test_one_session_per_platform(front: Front, depot: FakeDepot) -> None:
    async with front.session(platform="linux/amd64", **FAST), front.session(platform="linux/arm64", **FAST):
        await wait_for(depot, lambda: {m.platform for m in depot.health} == {1, 2})
    assert sorted(r.platform for r in depot.released) == [1, 2]


@pytest.mark.parametrize("cls", [DepotClient, AsyncDepotClient])
async def test_session_over_http2(cls: Any, depot: FakeDepot, server_url: str) -> None:
    """The official clients speak HTTP/2; the streams must work there too (h2c on loopback)."""
    client = cls(token="org", base_url=server_url, http_version="h2c")
    front = Front(client, cls is AsyncDepotClient)
    async with front.session(**FAST) as session:
        await wait_for(depot, lambda: len(depot.health) >= 3)
        assert session.health_ok
    assert_health_streams_closed(depot)
    assert_released_once(depot)
    await front.call(client.aclose() if front.is_async else client.close())
