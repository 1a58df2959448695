"""Fixtures for the client tests: the fake Depot server (fake_depot.py) and both clients on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from fake_depot import ORG_TOKEN, ConnectApp, FakeDepot, Front, ServerThread

from airflow_provider_depot.client import AsyncDepotClient, DepotClient


@pytest.fixture(scope="session")
def _server() -> Iterator[tuple[ServerThread, FakeDepot]]:
    depot = FakeDepot()
    server = ServerThread(ConnectApp(depot))
    server.start()
    yield server, depot
    server.stop()


@pytest.fixture
def depot(_server: tuple[ServerThread, FakeDepot]) -> FakeDepot:
    """The fake server's state, reset for each test."""
    _server[1].reset()
    return _server[1]


@pytest.fixture
def server_url(_server: tuple[ServerThread, FakeDepot], depot: FakeDepot) -> str:
    return _server[0].url


@pytest.fixture(params=["sync", "async"])
async def front(request: pytest.FixtureRequest, server_url: str) -> AsyncIterator[Front]:
    """A DepotClient or an AsyncDepotClient on the fake server, with the organization token."""
    if request.param == "sync":
        with DepotClient(token=ORG_TOKEN, base_url=server_url) as client:
            yield Front(client, is_async=False)
    else:
        async with AsyncDepotClient(token=ORG_TOKEN, base_url=server_url) as aclient:
            yield Front(aclient, is_async=True)
