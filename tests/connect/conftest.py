"""Fixtures of the Connect transport tests: the reference server and every front/codec/HTTP mix."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from connect_rpc import FAST_RETRIES, TOKEN, Front, MakeFront
from reference_server import ReferenceServer

from airflow_provider_depot.connect import TransportOptions


@pytest.fixture(scope="session")
def server() -> Iterator[ReferenceServer]:
    reference = ReferenceServer().start()
    yield reference
    reference.stop()


@pytest.fixture(scope="session")
def cutting_server() -> Iterator[ReferenceServer]:
    """A reference server that closes idle connections soon: an aborted HTTP/2 stream ends fast."""
    reference = ReferenceServer(keep_alive_timeout=0.5).start()
    yield reference
    reference.stop()


@pytest.fixture(params=["sync", "async"])
def front_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["proto", "json"])
def codec(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["1.1", "h2c"])
def http_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_front(
    server: ReferenceServer, front_kind: str, codec: str, http_version: str
) -> AsyncIterator[MakeFront]:
    """Build a Front on the parametrized front, codec and HTTP version; options may be overridden."""
    made: list[Front] = []

    def make(**overrides: Any) -> Front:
        options: dict[str, Any] = {
            "base_url": server.url,
            "token": TOKEN,
            "codec": codec,
            "http_version": http_version,
            **FAST_RETRIES,
        }
        options.update(overrides)
        front = Front(front_kind, TransportOptions(**options))
        made.append(front)
        return front

    yield make
    for front in made:
        await front.close()


@pytest.fixture
def rpc(make_front: MakeFront) -> Front:
    """A Front on the reference server with the default test options."""
    return make_front()
