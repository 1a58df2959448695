"""Server and client streams against the connectrpc reference server."""

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
from reference_server import Fail, Messages, ReferenceServer, new_key

from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot._proto.depot.core.v1 import project_pb2
from airflow_provider_depot.connect import Code, ConnectError


async def test_server_stream_of_n_messages(rpc: Front, server: ReferenceServer, codec: str) -> None:
    key = new_key()
    server.scripts.set(key, Messages(5))
    got, err = await rpc.server_stream(GET_ENDPOINT, get_endpoint(key))
    assert err is None
    assert [m.WhichOneof("connection") for m in got] == ["pending"] * 4 + ["active"]
    assert got[-1].active.endpoint == f"tcp://{key}:443"
    headers = server.scripts.headers[key][0]
    assert headers["content-type"] == f"application/connect+{codec}"
    assert headers["connect-accept-encoding"] == "gzip"


async def test_server_stream_of_no_messages(rpc: Front, server: ReferenceServer) -> None:
    key = new_key()
    server.scripts.set(key, Messages(0))
    assert await rpc.server_stream(GET_ENDPOINT, get_endpoint(key)) == ([], None)


async def test_error_in_the_end_of_stream(rpc: Front, server: ReferenceServer) -> None:
    key = new_key()
    detail = project_pb2.Project(project_id=key)
    server.scripts.set(key, Messages(3, then=Fail("failed_precondition", "builder gone", details=[detail])))
    got, err = await rpc.server_stream(GET_ENDPOINT, get_endpoint(key))
    assert len(got) == 3
    assert err is not None
    assert (err.code, err.message, err.rpc) == (
        Code.FAILED_PRECONDITION,
        "builder gone",
        "BuildKitService/GetEndpoint",
    )
    assert [d.message for d in err.details] == [detail]
    assert str(err) == "BuildKitService/GetEndpoint: failed_precondition: builder gone"


async def test_error_before_the_first_message(rpc: Front, server: ReferenceServer) -> None:
    key = new_key()
    server.scripts.set(key, Fail("unauthenticated", "bad build token"))
    got, err = await rpc.server_stream(GET_ENDPOINT, get_endpoint(key))
    assert got == []
    assert err is not None and (err.code, err.message) == (Code.UNAUTHENTICATED, "bad build token")


@pytest.mark.parametrize("accept_gzip", [True, False])
async def test_gzip_stream(make_front: MakeFront, server: ReferenceServer, accept_gzip: bool) -> None:
    key = new_key()
    server.scripts.set(key, Messages(3))
    got, err = await make_front(accept_gzip=accept_gzip).server_stream(GET_ENDPOINT, get_endpoint(key))
    assert (len(got), err) == (3, None)
    path, response_headers = server.front.response_headers[-1]
    assert path == GET_ENDPOINT.path
    assert (response_headers.get("connect-content-encoding") == "gzip") is accept_gzip


async def test_leaving_a_stream_early_closes_it(rpc: Front, server: ReferenceServer) -> None:
    key = new_key()
    server.scripts.set(key, Messages(200))
    got, err = await rpc.server_stream(GET_ENDPOINT, get_endpoint(key), take=1)
    assert (len(got), err) == (1, None)
    # The transport stays usable: the abandoned response did not wedge its connection pool.
    for _ in range(3):
        reply = await rpc.unary(GET_PROJECT, get_project(key))
        assert reply.project.project_id == key


async def test_client_stream_of_n_messages(rpc: Front, server: ReferenceServer, codec: str) -> None:
    key = new_key()
    reply = await rpc.client_stream(REPORT_HEALTH, health(key, 7))
    assert reply == buildkit_pb2.ReportHealthResponse()
    assert server.scripts.received[key] == health(key, 7)
    assert server.scripts.headers[key][0]["content-type"] == f"application/connect+{codec}"


async def test_paced_long_lived_client_stream(rpc: Front, server: ReferenceServer) -> None:
    # ReportHealth stays open and sends a message every N seconds; here N is short.
    key = new_key()
    await rpc.client_stream(REPORT_HEALTH, health(key, 4), interval=0.2)
    assert len(server.scripts.received[key]) == 4


async def test_async_front_takes_a_sync_iterable(
    make_front: MakeFront, server: ReferenceServer, front_kind: str
) -> None:
    key = new_key()
    await make_front().client_stream(REPORT_HEALTH, health(key, 3), async_source=False)
    assert len(server.scripts.received[key]) == 3


async def test_client_stream_error(rpc: Front, server: ReferenceServer) -> None:
    key = new_key()
    server.scripts.set(key, Fail("permission_denied", "not your build"))
    with pytest.raises(ConnectError) as caught:
        await rpc.client_stream(REPORT_HEALTH, health(key, 2))
    err = caught.value
    assert (err.code, err.message, err.rpc) == (
        Code.PERMISSION_DENIED,
        "not your build",
        "BuildKitService/ReportHealth",
    )
    assert server.scripts.attempts[key] == 1


async def test_client_stream_message_of_the_wrong_type(rpc: Front) -> None:
    with pytest.raises(TypeError, match="ReportHealthRequest"):
        await rpc.client_stream(REPORT_HEALTH, [get_project("x")])
