"""Which failures are retried: reads on unavailable/resource_exhausted, anything never sent.

Attempts are counted where they arrive (the server's scripts, or accepted connections);
the retry log is checked for its content, never for timings.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from connect_rpc import (
    CREATE_BUILD,
    CREATE_PROJECT,
    CREATE_TOKEN,
    GET_ENDPOINT,
    GET_PROJECT,
    LIST_PROJECTS,
    REPORT_HEALTH,
    TOKEN,
    Front,
    MakeFront,
    get_endpoint,
    get_project,
    health,
    keyed,
)
from reference_server import Fail, Messages, ReferenceServer, new_key

from airflow_provider_depot.connect import Code, ConnectError, MethodSpec

LOGGER = "airflow_provider_depot.connect"


RetryLog = Callable[[], list[str]]


@pytest.fixture
def retry_log(caplog: pytest.LogCaptureFixture) -> Iterator[RetryLog]:
    """The retry warnings logged so far; at the end, none of the test's logs may hold the token."""
    caplog.set_level(logging.WARNING, logger=LOGGER)
    yield lambda: [
        r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING
    ]
    assert TOKEN not in caplog.text


READS = [GET_PROJECT, LIST_PROJECTS]
MUTATIONS = [CREATE_PROJECT, CREATE_BUILD, CREATE_TOKEN]


@pytest.mark.parametrize("code", ["unavailable", "resource_exhausted"])
@pytest.mark.parametrize("spec", READS, ids=lambda spec: spec.name)
async def test_reads_are_retried(
    rpc: Front, server: ReferenceServer, retry_log: RetryLog, code: str, spec: MethodSpec
) -> None:
    key = new_key()
    server.scripts.set(key, Fail(code, "busy"), Fail(code, "busy"))
    await rpc.unary(spec, keyed(spec, key))
    assert server.scripts.attempts[key] == 3
    logged = retry_log()
    assert len(logged) == 2
    assert logged[0].startswith(f"{spec.rpc} failed with {code}; retry 1 of 3 in ")
    assert logged[1].startswith(f"{spec.rpc} failed with {code}; retry 2 of 3 in ")


async def test_reads_give_up_after_max_retries(
    rpc: Front, server: ReferenceServer, retry_log: list[str]
) -> None:
    key = new_key()
    server.scripts.set(key, *[Fail("unavailable", f"down {i}") for i in range(10)])
    with pytest.raises(ConnectError) as caught:
        await rpc.unary(GET_PROJECT, get_project(key))
    assert (caught.value.code, caught.value.message) == (Code.UNAVAILABLE, "down 3")
    assert server.scripts.attempts[key] == 4


@pytest.mark.parametrize("spec", MUTATIONS, ids=lambda spec: spec.name)
async def test_mutations_are_never_retried(
    rpc: Front, server: ReferenceServer, retry_log: RetryLog, spec: MethodSpec
) -> None:
    key = new_key()
    server.scripts.set(key, Fail("unavailable", "try later"))
    with pytest.raises(ConnectError) as caught:
        await rpc.unary(spec, keyed(spec, key))
    assert caught.value.code is Code.UNAVAILABLE
    assert server.scripts.attempts[key] == 1
    assert retry_log() == []
    # The same call succeeds when sent again by the caller: only the transport did not resend it.
    await rpc.unary(spec, keyed(spec, key))
    assert server.scripts.attempts[key] == 2


@pytest.mark.parametrize("code", ["internal", "unknown", "deadline_exceeded", "aborted", "not_found"])
async def test_other_codes_are_not_retried(rpc: Front, server: ReferenceServer, code: str) -> None:
    key = new_key()
    server.scripts.set(key, Fail(code))
    with pytest.raises(ConnectError):
        await rpc.unary(GET_PROJECT, get_project(key))
    assert server.scripts.attempts[key] == 1


async def test_retry_after_is_honored(rpc: Front, server: ReferenceServer, retry_log: RetryLog) -> None:
    key = new_key()
    server.scripts.set(key, Fail("resource_exhausted", "slow down", headers={"retry-after": "1"}))
    reply = await rpc.unary(GET_PROJECT, get_project(key))
    assert reply.project.project_id == key
    assert server.scripts.attempts[key] == 2
    # The pause taken is the server's, not the (much shorter) backoff of these tests.
    assert retry_log() == ["ProjectService/GetProject failed with resource_exhausted; retry 1 of 3 in 1.00s"]


async def test_retry_after_too_long_is_left_to_the_caller(rpc: Front, server: ReferenceServer) -> None:
    key = new_key()
    server.scripts.set(key, Fail("resource_exhausted", "come back later", headers={"retry-after": "120"}))
    with pytest.raises(ConnectError) as caught:
        await rpc.unary(GET_PROJECT, get_project(key))
    assert (caught.value.code, caught.value.retry_after) == (Code.RESOURCE_EXHAUSTED, 120.0)
    assert server.scripts.attempts[key] == 1


async def test_retry_after_beyond_the_deadline(rpc: Front, server: ReferenceServer) -> None:
    key = new_key()
    server.scripts.set(key, Fail("unavailable", "restarting", headers={"retry-after": "5"}))
    with pytest.raises(ConnectError) as caught:
        await rpc.unary(GET_PROJECT, get_project(key), timeout=2)
    assert (caught.value.code, caught.value.retry_after) == (Code.UNAVAILABLE, 5.0)
    assert server.scripts.attempts[key] == 1


async def test_idempotent_server_stream_is_retried_before_its_first_message(
    rpc: Front, server: ReferenceServer
) -> None:
    key = new_key()
    server.scripts.set(key, Fail("unavailable"), Messages(2))
    got, err = await rpc.server_stream(GET_ENDPOINT, get_endpoint(key))
    assert (len(got), err) == (2, None)
    assert server.scripts.attempts[key] == 2


async def test_client_stream_is_not_retried(rpc: Front, server: ReferenceServer) -> None:
    key = new_key()
    server.scripts.set(key, Fail("unavailable"))
    with pytest.raises(ConnectError) as caught:
        await rpc.client_stream(REPORT_HEALTH, health(key, 2))
    assert caught.value.code is Code.UNAVAILABLE
    assert server.scripts.attempts[key] == 1


# -- failures of the connection -----------------------------------------------------------


def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("spec", [CREATE_PROJECT, GET_PROJECT], ids=lambda spec: spec.name)
async def test_requests_that_never_left_are_retried_on_any_method(
    make_front: MakeFront, retry_log: RetryLog, spec: MethodSpec
) -> None:
    rpc = make_front(base_url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ConnectError) as caught:
        await rpc.unary(spec, keyed(spec, "x"))
    err = caught.value
    assert err.code is Code.UNAVAILABLE
    assert str(err).startswith(f"{spec.rpc}: unavailable: ConnectError")
    assert TOKEN not in str(err) and TOKEN not in repr(err)
    assert [m.split(";")[0] for m in retry_log()] == [f"{spec.rpc} failed with unavailable"] * 3


class DroppingServer:
    """Accepts each connection, reads what the client sends, and hangs up without answering."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._sock.close()
        self._thread.join(5)


@pytest.fixture
def dropping_server() -> Iterator[DroppingServer]:
    dropping = DroppingServer()
    yield dropping
    dropping.close()


@pytest.mark.parametrize(
    ("spec", "attempts"), [(CREATE_PROJECT, 1), (GET_PROJECT, 4)], ids=["CreateProject", "GetProject"]
)
async def test_failure_after_sending_is_retried_only_for_reads(
    make_front: MakeFront,
    dropping_server: DroppingServer,
    retry_log: RetryLog,
    spec: MethodSpec,
    attempts: int,
) -> None:
    rpc = make_front(base_url=dropping_server.url)
    with pytest.raises(ConnectError) as caught:
        await rpc.unary(spec, keyed(spec, "x"))
    assert caught.value.code is Code.UNAVAILABLE
    assert caught.value.rpc == spec.rpc
    assert dropping_server.accepted == attempts
