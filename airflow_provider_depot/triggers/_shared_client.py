"""One AsyncDepotClient per connection settings and event loop, shared by the triggers in it.

A triggerer runs all its triggers in one event loop. A client per trigger would give each one
its own HTTP connection pool and TLS context (hundreds of KB, and a TLS handshake per
trigger); shared, a thousand polling triggers take turns on one pool of keep-alive
connections (at most the transport's limit, 100). The client lives while at least one trigger
of that loop uses it and is closed by the last one out.

The client speaks HTTP/1.1 (keep-alive) whatever the connection's ``http2`` setting: a poll is
one small unary call, which gains nothing from HTTP/2, and the h2 state machine costs more CPU
(bench/bench_triggers.py, 1,000 triggers: about 0.3 ms of CPU per poll over HTTP/1.1 against
0.9 ms over h2c).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_depot.client import AsyncDepotClient
    from airflow_provider_depot.client._client import HttpVersion
    from airflow_provider_depot.hooks._connection_config import DepotConnectionConfig


POLL_HTTP_VERSION: HttpVersion = "1.1"


@dataclass
class _Lease:
    client: AsyncDepotClient
    users: int = 0


_LEASES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[DepotConnectionConfig, _Lease]] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def shared_async_client(config: DepotConnectionConfig) -> AsyncIterator[AsyncDepotClient]:
    """The loop's client for ``config`` for the length of the ``async with`` block."""
    from airflow_provider_depot.client import AsyncDepotClient

    leases = _LEASES.setdefault(asyncio.get_running_loop(), {})
    lease = leases.get(config)
    if lease is None:
        settings = {**config.client_kwargs(), "http_version": POLL_HTTP_VERSION}
        lease = leases[config] = _Lease(AsyncDepotClient(**settings))
    lease.users += 1
    try:
        yield lease.client
    finally:
        lease.users -= 1
        if lease.users == 0 and leases.get(config) is lease:
            del leases[config]
            await lease.client.aclose()
