"""Many calls in flight on one transport, and the async HTTP/1.1 connection pool's leases."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from connect_rpc import GET_PROJECT, TOKEN, MakeFront, get_project
from reference_server import Raw, ReferenceServer, new_key

from airflow_provider_depot.connect import ConnectTransport, TransportOptions
from airflow_provider_depot.connect._options import HttpVersion
from airflow_provider_depot.connect._pool import LeasedConnectionPool


@pytest.mark.parametrize("front_kind", ["async"])
async def test_64_async_calls_in_flight(make_front: MakeFront, server: ReferenceServer) -> None:
    rpc = make_front()
    keys = [new_key() for _ in range(64)]
    replies = await asyncio.gather(*(rpc.unary(GET_PROJECT, get_project(key)) for key in keys))
    assert [reply.project.project_id for reply in replies] == keys
    assert all(server.scripts.attempts[key] == 1 for key in keys)


@pytest.mark.parametrize("http_version", ["1.1", "h2c"])
def test_sync_transport_shared_by_threads(server: ReferenceServer, http_version: HttpVersion) -> None:
    keys = [new_key() for _ in range(64)]
    options = TransportOptions(base_url=server.url, token=TOKEN, http_version=http_version)
    with ConnectTransport(options) as transport, ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda key: transport.unary(GET_PROJECT, get_project(key)), keys))
    assert [reply.project.project_id for reply in replies] == keys


async def test_leased_connection_is_returned_when_its_response_closes(server: ReferenceServer) -> None:
    pool = LeasedConnectionPool(verify=httpx.create_ssl_context(), max_connections=1)
    url = server.raw(Raw(body=b"held")) + "/x"
    async with httpx.AsyncClient(transport=pool) as client:
        held = await client.send(client.build_request("POST", url), stream=True)
        # The only connection is leased: a second request waits, up to its pool timeout.
        with pytest.raises(httpx.PoolTimeout):
            await client.post(url, timeout=httpx.Timeout(5.0, pool=0.2))
        waiting = asyncio.ensure_future(client.post(url, timeout=httpx.Timeout(5.0, pool=5.0)))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await held.aclose()
        assert (await waiting).content == b"held"
        # A request that fails also hands its connection back.
        with pytest.raises(httpx.ConnectError):
            await client.post("http://127.0.0.1:9/x")
        assert (await client.post(url)).content == b"held"
