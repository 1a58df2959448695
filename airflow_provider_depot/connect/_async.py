"""AsyncConnectTransport: Connect calls over one pooled ``httpx.AsyncClient``.

The asyncio twin of ``_sync``: the same loop over the shared ``Call``, with awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from types import TracebackType

import httpx
from google.protobuf.message import Message

from ._errors import ConnectError
from ._method import MethodKind, MethodSpec
from ._options import TransportOptions
from ._pool import LeasedConnectionPool
from ._protocol import MAX_CONNECTIONS, Call, ConnectProtocol, StreamDecoder


class AsyncConnectTransport:
    """Asyncio Connect client; one instance per event loop and base URL, reused for every call."""

    def __init__(self, options: TransportOptions) -> None:
        self._protocol = protocol = ConnectProtocol(options)
        overrides = {}
        if protocol.http1_only:
            pool = LeasedConnectionPool(verify=protocol.ssl_context, max_connections=MAX_CONNECTIONS)
            overrides["transport"] = pool
        self._client = protocol.new_client(httpx.AsyncClient, **overrides)

    @property
    def options(self) -> TransportOptions:
        return self._protocol.options

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> AsyncConnectTransport:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def unary(
        self, spec: MethodSpec, request: Message, *, timeout: float | None = None, token: str | None = None
    ) -> Message:
        """Send one request, return the response message; raises ConnectError."""
        call = self._protocol.start(spec, MethodKind.UNARY, timeout, token)
        body = call.encode(request)
        while True:
            try:
                return call.unary_result(await self._client.send(call.request(body)))
            except (ConnectError, httpx.HTTPError) as exc:
                await asyncio.sleep(call.backoff(exc))

    @contextlib.asynccontextmanager
    async def server_stream(
        self, spec: MethodSpec, request: Message, *, timeout: float | None = None, token: str | None = None
    ) -> AsyncIterator[AsyncIterator[Message]]:
        """Async context manager yielding the response messages; leaving early closes the response.

        Entering it waits for the first message (or the end of the stream): until then a
        failure of a read (``Get*``) may still be retried.
        """
        call = self._protocol.start(spec, MethodKind.SERVER_STREAM, timeout, token)
        body = call.envelope(request)
        while True:
            try:
                response = await self._client.send(call.request(body), stream=True)
                try:
                    if response.status_code != 200:
                        await response.aread()
                    decoder = call.stream_decoder(response)
                    chunks = response.aiter_bytes()
                    first = await _first_messages(decoder, chunks)
                except BaseException:
                    await response.aclose()
                    raise
                break
            except (ConnectError, httpx.HTTPError) as exc:
                await asyncio.sleep(call.backoff(exc))
        messages = _messages(call, decoder, first, chunks)
        try:
            yield messages
        finally:
            await messages.aclose()
            await response.aclose()

    async def client_stream(
        self,
        spec: MethodSpec,
        requests: AsyncIterable[Message] | Iterable[Message],
        *,
        timeout: float | None = None,
        token: str | None = None,
    ) -> Message:
        """Stream ``requests`` (sync or async; pulled as they are sent), return the response.

        A sync iterable that blocks blocks the event loop: pass an async one for paced streams.
        """
        call = self._protocol.start(spec, MethodKind.CLIENT_STREAM, timeout, token)
        source = requests.__aiter__() if isinstance(requests, AsyncIterable) else _aiter(requests)
        while True:
            try:
                response = await self._client.send(call.request(_Envelopes(call, source)))
                return call.client_stream_result(response)
            except (ConnectError, httpx.HTTPError) as exc:
                await asyncio.sleep(call.backoff(exc))


async def _aiter(requests: Iterable[Message]) -> AsyncIterator[Message]:
    for message in requests:
        yield message


class _Envelopes(httpx.AsyncByteStream):
    """A client stream's request body: each message framed when the connection asks for it."""

    def __init__(self, call: Call, source: AsyncIterator[Message]) -> None:
        self._call = call
        self._source = source

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for message in self._source:
            self._call.replayable = False
            yield self._call.envelope(message)


async def _first_messages(decoder: StreamDecoder, chunks: AsyncIterator[bytes]) -> list[Message]:
    """Read until the stream yields a message; raises what it ended with if it never did."""
    async for chunk in chunks:
        messages = decoder.feed(chunk)
        if messages:
            return messages
    decoder.finish()
    return []


async def _messages(
    call: Call, decoder: StreamDecoder, first: list[Message], chunks: AsyncIterator[bytes]
) -> AsyncGenerator[Message, None]:
    try:
        for message in first:
            yield message
        async for chunk in chunks:
            for message in decoder.feed(chunk):
                yield message
        decoder.finish()
    except httpx.HTTPError as exc:
        raise call.transport_error(exc) from exc
