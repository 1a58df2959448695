"""An HTTP/1.1 connection pool for many concurrent async calls.

httpcore's AsyncConnectionPool re-examines every connection each time a request starts or
ends, and may hand one idle connection to several waiting requests, of which all but one
then retry. With 64 calls in flight over HTTP/1.1 that churn costs more than the HTTP work
(measured on loopback: about 300 calls/s, against about 1600 with this pool). Here each
request leases a whole connection and hands it back when its response is closed, so a
request never waits on, or races for, a connection in use. http:// requests lease an
``Http11Connection`` (no httpcore, h11 or anyio on the way); https:// ones a single-connection
httpx transport.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable

import httpx

from ._http11 import Http11Connection, Timeouts, wait_for_signal

_Origin = tuple[str, int]


class LeasedConnectionPool(httpx.AsyncBaseTransport):
    """At most ``max_connections`` keep-alive connections, each used by one request at a time."""

    def __init__(self, *, verify: ssl.SSLContext, max_connections: int) -> None:
        self._verify = verify
        self._free = max_connections
        self._waiters: deque[asyncio.Future[bool]] = deque()
        self._idle: dict[_Origin, list[Http11Connection]] = {}
        self._connections: set[Http11Connection] = set()
        self._idle_tls: list[httpx.AsyncHTTPTransport] = []
        self._opened_tls: list[httpx.AsyncHTTPTransport] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: Timeouts = request.extensions.get("timeout", {})
        await self._acquire(request, timeouts.get("pool"))
        try:
            if request.url.scheme == "http":
                return await self._send_cleartext(request, timeouts)
            return await self._send_tls(request)
        except BaseException:
            self._release()
            raise

    async def _send_cleartext(self, request: httpx.Request, timeouts: Timeouts) -> httpx.Response:
        url = request.url
        origin = (url.host, url.port or 80)
        connection = self._reuse(origin)
        if connection is None:
            connection = await Http11Connection.open(*origin, timeouts.get("connect"))
            self._connections.add(connection)

        def done(reusable: bool) -> None:
            if reusable:
                self._idle.setdefault(origin, []).append(connection)
            else:
                self._connections.discard(connection)
            self._release()

        try:
            return await connection.send(request, timeouts, done)
        except BaseException:
            connection.close()
            self._connections.discard(connection)
            raise

    def _reuse(self, origin: _Origin) -> Http11Connection | None:
        """The most recently used idle connection to ``origin`` that is still intact."""
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.reusable():
                return connection
            connection.close()
            self._connections.discard(connection)
        return None

    async def _send_tls(self, request: httpx.Request) -> httpx.Response:
        if self._idle_tls:
            connection = self._idle_tls.pop()
        else:
            connection = httpx.AsyncHTTPTransport(
                verify=self._verify, limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)
            )
            self._opened_tls.append(connection)
        try:
            response = await connection.handle_async_request(request)
        except BaseException:
            self._idle_tls.append(connection)
            raise

        def done() -> None:
            self._idle_tls.append(connection)
            self._release()

        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Lease(response.stream, done)
        return response

    async def _acquire(self, request: httpx.Request, timeout: float | None) -> None:
        if self._free and not self._waiters:
            self._free -= 1
            return
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            granted = await wait_for_signal(waiter, timeout)
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self._release()  # granted just as this request was cancelled: pass it on
            raise
        if not granted:
            raise httpx.PoolTimeout("no connection became free in time", request=request)

    def _release(self) -> None:
        """Hand a connection slot to the oldest waiting request, else make it free."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
        self._free += 1

    async def aclose(self) -> None:
        for connection in self._connections:
            connection.close()
        self._connections.clear()
        self._idle.clear()
        for transport in self._opened_tls:
            await transport.aclose()
        self._opened_tls.clear()
        self._idle_tls.clear()


class _Lease(httpx.AsyncByteStream):
    """A response body that returns its connection to the pool when closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()
