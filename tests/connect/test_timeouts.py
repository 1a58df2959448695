"""Deadlines: sent as Connect-Timeout-Ms and enforced by the server, and enforced by us.

Checklist: the conformance suite's ``timeouts`` cases (unary, client-stream, server-stream;
Depot has no bidi streams), each both ways: the server sleeps past the deadline it was sent,
and a server that never answers meets our own deadline.
"""

from __future__ import annotations

import pytest
from connect_rpc import (
    GET_ENDPOINT,
    GET_PROJECT,
    REPORT_HEALTH,
    Front,
    MakeFront,
    get_endpoint,
    get_project,
    health,
)
from reference_server import Fail, Raw, ReferenceServer, Sleep, new_key

from airflow_provider_depot.connect import Code, ConnectError


async def test_unary_server_enforces_the_deadline(rpc: Front, server: ReferenceServer) -> None:
    # timeouts "unary"
    key = new_key()
    server.scripts.set(key, Sleep(5))
    with pytest.raises(ConnectError) as caught:
        await rpc.unary(GET_PROJECT, get_project(key), timeout=0.4)
    assert caught.value.code is Code.DEADLINE_EXCEEDED
    assert caught.value.rpc == "ProjectService/GetProject"
    [remaining_ms] = server.scripts.timeouts_ms[key]
    assert remaining_ms is not None and 0 < remaining_ms <= 400


async def test_unary_client_deadline(make_front: MakeFront, server: ReferenceServer) -> None:
    # timeouts "unary", against a server that ignores the deadline
    rpc = make_front(base_url=server.raw(Raw(hang=True)))
    with pytest.raises(ConnectError) as caught:
        await rpc.unary(GET_PROJECT, get_project("p"), timeout=0.3)
    err = caught.value
    assert (err.code, err.http_status) == (Code.DEADLINE_EXCEEDED, None)
    assert str(err).startswith("ProjectService/GetProject: deadline_exceeded: deadline of 0.3s exceeded")


async def test_client_stream_server_enforces_the_deadline(rpc: Front, server: ReferenceServer) -> None:
    # timeouts "client-stream"
    key = new_key()
    server.scripts.set(key, Sleep(5))
    with pytest.raises(ConnectError) as caught:
        await rpc.client_stream(REPORT_HEALTH, health(key, 2), timeout=0.4)
    assert caught.value.code is Code.DEADLINE_EXCEEDED
    assert len(server.scripts.received[key]) == 2


async def test_client_stream_client_deadline(make_front: MakeFront, server: ReferenceServer) -> None:
    # timeouts "client-stream", against a server that ignores the deadline
    rpc = make_front(base_url=server.raw(Raw(hang=True)))
    with pytest.raises(ConnectError) as caught:
        await rpc.client_stream(REPORT_HEALTH, health("b", 2), timeout=0.3)
    assert caught.value.code is Code.DEADLINE_EXCEEDED


async def test_slow_client_stream_producer_meets_the_deadline(rpc: Front, server: ReferenceServer) -> None:
    # Our case: the messages come slower than the deadline allows.
    key = new_key()
    with pytest.raises(ConnectError) as caught:
        await rpc.client_stream(REPORT_HEALTH, health(key, 5), interval=0.25, timeout=0.4)
    assert caught.value.code is Code.DEADLINE_EXCEEDED


async def test_server_stream_server_enforces_the_deadline(rpc: Front, server: ReferenceServer) -> None:
    # timeouts "server-stream"
    key = new_key()
    server.scripts.set(key, Sleep(5))
    got, err = await rpc.server_stream(GET_ENDPOINT, get_endpoint(key), timeout=0.4)
    assert got == []
    assert err is not None and err.code is Code.DEADLINE_EXCEEDED


async def test_server_stream_client_deadline(make_front: MakeFront, server: ReferenceServer) -> None:
    # timeouts "server-stream", against a server that ignores the deadline
    rpc = make_front(base_url=server.raw(Raw(hang=True)))
    got, err = await rpc.server_stream(GET_ENDPOINT, get_endpoint("b"), timeout=0.3)
    assert got == []
    assert err is not None and (err.code, err.http_status) == (Code.DEADLINE_EXCEEDED, None)


async def test_default_deadline_from_the_options(make_front: MakeFront, server: ReferenceServer) -> None:
    key = new_key()
    server.scripts.set(key, Sleep(5))
    with pytest.raises(ConnectError) as caught:
        await make_front(timeout=0.4).unary(GET_PROJECT, get_project(key))
    assert caught.value.code is Code.DEADLINE_EXCEEDED


@pytest.mark.parametrize(("timeout", "low", "high"), [(2.5, 2000, 2500), (1e9, 9_999_999_999, 9_999_999_999)])
async def test_timeout_header(
    rpc: Front, server: ReferenceServer, timeout: float, low: int, high: int
) -> None:
    # A positive integer of at most 10 digits.
    key = new_key()
    await rpc.unary(GET_PROJECT, get_project(key), timeout=timeout)
    sent = server.scripts.headers[key][0]["connect-timeout-ms"]
    assert sent.isdigit() and len(sent) <= 10
    assert low <= int(sent) <= high


async def test_retries_share_one_deadline(rpc: Front, server: ReferenceServer) -> None:
    # Each attempt is sent with what is left of the call's deadline.
    key = new_key()
    server.scripts.set(key, *[step for _ in range(3) for step in (Sleep(0.15), Fail("unavailable"))])
    await rpc.unary(GET_PROJECT, get_project(key), timeout=5)
    sent = [int(h["connect-timeout-ms"]) for h in server.scripts.headers[key]]
    assert len(sent) == 4
    assert sent == sorted(sent, reverse=True) and sent[0] - sent[-1] >= 450
