"""TCP proxies that stand in front of a BuildKit endpoint.

``ByteProxy`` listens on a loopback port and, for each accepted connection, opens an upstream
stream with a coroutine of the caller's and pipes bytes both ways until either side is done.
``MTLSProxy`` is a ``ByteProxy`` that terminates mutual TLS with one build's credentials (the
client must present a certificate signed by the build's CA; ALPN offers ``h2`` since BuildKit
speaks gRPC) and forwards to a plain ``tcp://host:port`` BuildKit.

A proxy runs either inside the caller's event loop (``await start()`` / ``await stop()``, or
``async with``) or on a private loop in a daemon thread (``start_in_thread()`` /
``stop_in_thread()``, or ``with``). Stopping closes the listener and every piped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType

from airflow_provider_depot.emulator._certs import BuildCredentials, server_ssl_context

__all__ = ["ByteProxy", "MTLSProxy", "OpenUpstream", "Streams", "parse_tcp_endpoint"]

log = logging.getLogger(__name__)

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
OpenUpstream = Callable[[], Awaitable[Streams]]

_CHUNK = 256 * 1024
_HANDSHAKE_TIMEOUT = 10.0
_THREAD_START_TIMEOUT = 30.0
_CLOSE_TIMEOUT = 5.0


class ByteProxy:
    """Accepts connections on ``host:port`` (0 = a free port) and pipes each to ``open_upstream()``.

    ``ssl_context``, when given, is a server context: the TLS handshake (and its client
    certificate check) completes before ``open_upstream`` is called, so a rejected client never
    reaches the upstream. An ``open_upstream`` that raises ``OSError`` (``ConnectionError``
    included) closes that one client connection, with a warning logged.
    """

    def __init__(
        self,
        open_upstream: OpenUpstream,
        *,
        ssl_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer in 0..65535, got {port!r}")
        self._open_upstream = open_upstream
        self._ssl_context = ssl_context
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The listening port (the one picked, once started with port 0)."""
        return self._port

    @property
    def endpoint(self) -> str:
        """``tcp://host:port``, the form Depot hands out as a BuildKit endpoint."""
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        return f"tcp://{self._host}:{self._port}"

    @property
    def active_connections(self) -> int:
        """Client connections currently being piped."""
        return len(self._handlers)

    async def start(self) -> None:
        """Start listening in the running event loop."""
        if self._server is not None:
            raise RuntimeError("the proxy is already started")
        self._server = await asyncio.start_server(
            self._handle,
            self._host,
            self._port,
            ssl=self._ssl_context,
            ssl_handshake_timeout=_HANDSHAKE_TIMEOUT if self._ssl_context else None,
        )
        self._port = self._server.sockets[0].getsockname()[1]
        log.debug("proxy listening on %s:%d", self._host, self._port)

    async def stop(self) -> None:
        """Stop listening and close every piped connection; waits until all are closed."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping = True
        server.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()
        self._stopping = False

    async def __aenter__(self) -> ByteProxy:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def start_in_thread(self) -> None:
        """Start the proxy on a private event loop in a daemon thread; returns once it listens."""
        if self._thread is not None:
            raise RuntimeError("the proxy is already running in a thread")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name=f"proxy-{id(self):x}", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(_THREAD_START_TIMEOUT)
        except BaseException:
            _end_loop_thread(loop, thread)
            raise
        self._loop, self._thread = loop, thread

    def stop_in_thread(self) -> None:
        """Stop a proxy started with ``start_in_thread`` and end its thread and loop."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        try:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result()
        finally:
            _end_loop_thread(loop, thread)

    def __enter__(self) -> ByteProxy:
        self.start_in_thread()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_in_thread()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # start_server runs each handler in its own task
        self._handlers.add(task)
        writers = [writer]
        try:
            try:
                upstream_reader, upstream_writer = await self._open_upstream()
            except OSError as exc:  # ConnectionError included
                log.warning("proxy on port %d could not reach its upstream: %s", self._port, exc)
            else:
                writers.append(upstream_writer)
                await _pipe(reader, writer, upstream_reader, upstream_writer)
            await _close_politely(writers)
        except asyncio.CancelledError:
            # stop() cancels handlers. A handler task that ends cancelled makes asyncio's stream
            # callback log an error on Python 3.11, so one stopped that way returns normally.
            if not self._stopping:
                raise
        finally:
            _abort_all(writers)  # whatever a polite close did not finish (all of them on stop)
            self._handlers.discard(task)


class MTLSProxy(ByteProxy):
    """Terminates mutual TLS with ``credentials`` and forwards to ``upstream`` (``tcp://host:port``).

    A client must verify the server as ``credentials.server_name`` against the CA and present the
    client certificate; anything else fails in the handshake and never reaches the upstream.
    """

    def __init__(
        self, credentials: BuildCredentials, upstream: str, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        upstream_host, upstream_port = parse_tcp_endpoint(upstream, parameter="upstream")

        async def open_upstream() -> Streams:
            return await asyncio.open_connection(upstream_host, upstream_port, limit=_CHUNK)

        super().__init__(open_upstream, ssl_context=server_ssl_context(credentials), host=host, port=port)
        self.credentials = credentials
        self.upstream = upstream


def parse_tcp_endpoint(endpoint: str, *, parameter: str = "endpoint") -> tuple[str, int]:
    """Split ``tcp://host:port`` (or ``host:port``; ``[v6]:port``) into host and port.

    Raises ValueError naming ``parameter`` when the value is not of that form.
    """
    text = endpoint.removeprefix("tcp://") if isinstance(endpoint, str) else ""
    host, sep, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise ValueError(f"{parameter} must look like tcp://host:port, got {endpoint!r}")
    return host, int(port_text)


async def _pipe(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    upstream_reader: asyncio.StreamReader,
    upstream_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways. A side that ends is half-closed onward when the transport allows it (plain
    TCP) and the other direction goes on; otherwise (TLS, errors) the whole pipe ends."""
    pending = {
        asyncio.ensure_future(_copy(client_reader, upstream_writer)),
        asyncio.ensure_future(_copy(upstream_reader, client_writer)),
    }
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            # a list, not all(): every finished copy's exception is retrieved, none left to log
            half_closed = [task.exception() is None and task.result() for task in done]
            if not all(half_closed):
                return
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> bool:
    """Copy until EOF; True when the sink could be half-closed so the pipe may go on."""
    while data := await source.read(_CHUNK):
        sink.write(data)
        await sink.drain()
    if sink.can_write_eof() and not sink.is_closing():
        sink.write_eof()
        return True
    return False


async def _close_politely(writers: list[asyncio.StreamWriter]) -> None:
    """Close each stream and wait, for at most _CLOSE_TIMEOUT in all, until it is closed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _CLOSE_TIMEOUT
    for writer in writers:
        writer.close()
    for writer in writers:
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), max(0.0, deadline - loop.time()))


def _abort_all(writers: list[asyncio.StreamWriter]) -> None:
    for writer in writers:
        writer.transport.abort()


def _end_loop_thread(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()
