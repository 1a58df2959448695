"""ConnectTransport: Connect calls over one pooled ``httpx.Client``.

Only I/O lives here; every decision is the shared ``Call``'s (``_protocol``). The async
front (``_async``) mirrors this module line for line.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Iterable, Iterator
from types import TracebackType

import httpx
from google.protobuf.message import Message

from ._errors import ConnectError
from ._method import MethodKind, MethodSpec
from ._options import TransportOptions
from ._protocol import Call, ConnectProtocol, StreamDecoder


class ConnectTransport:
    """Blocking Connect client. Thread-safe; one instance per base URL, reused for every call."""

    def __init__(self, options: TransportOptions) -> None:
        self._protocol = ConnectProtocol(options)
        self._client = self._protocol.new_client(httpx.Client)

    @property
    def options(self) -> TransportOptions:
        return self._protocol.options

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ConnectTransport:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def unary(
        self, spec: MethodSpec, request: Message, *, timeout: float | None = None, token: str | None = None
    ) -> Message:
        """Send one request, return the response message; raises ConnectError."""
        call = self._protocol.start(spec, MethodKind.UNARY, timeout, token)
        body = call.encode(request)
        while True:
            try:
                return call.unary_result(self._client.send(call.request(body)))
            except (ConnectError, httpx.HTTPError) as exc:
                time.sleep(call.backoff(exc))

    @contextlib.contextmanager
    def server_stream(
        self, spec: MethodSpec, request: Message, *, timeout: float | None = None, token: str | None = None
    ) -> Iterator[Iterator[Message]]:
        """Context manager yielding the response messages; leaving it early closes the response.

        Entering it waits for the first message (or the end of the stream): until then a
        failure of a read (``Get*``) may still be retried.
        """
        call = self._protocol.start(spec, MethodKind.SERVER_STREAM, timeout, token)
        body = call.envelope(request)
        while True:
            try:
                response = self._client.send(call.request(body), stream=True)
                try:
                    if response.status_code != 200:
                        response.read()
                    decoder = call.stream_decoder(response)
                    chunks = response.iter_bytes()
                    first = _first_messages(decoder, chunks)
                except BaseException:
                    response.close()
                    raise
                break
            except (ConnectError, httpx.HTTPError) as exc:
                time.sleep(call.backoff(exc))
        messages = _messages(call, decoder, first, chunks)
        try:
            yield messages
        finally:
            messages.close()
            response.close()

    def client_stream(
        self,
        spec: MethodSpec,
        requests: Iterable[Message],
        *,
        timeout: float | None = None,
        token: str | None = None,
    ) -> Message:
        """Stream ``requests`` (pulled as they are sent; may be long-lived), return the response."""
        call = self._protocol.start(spec, MethodKind.CLIENT_STREAM, timeout, token)
        source = iter(requests)
        while True:
            try:
                response = self._client.send(call.request(_Envelopes(call, source)))
                return call.client_stream_result(response)
            except (ConnectError, httpx.HTTPError) as exc:
                time.sleep(call.backoff(exc))


class _Envelopes(httpx.SyncByteStream):
    """A client stream's request body: each message framed when the connection asks for it."""

    def __init__(self, call: Call, source: Iterator[Message]) -> None:
        self._call = call
        self._source = source

    def __iter__(self) -> Iterator[bytes]:
        for message in self._source:
            self._call.replayable = False
            yield self._call.envelope(message)


def _first_messages(decoder: StreamDecoder, chunks: Iterator[bytes]) -> list[Message]:
    """Read until the stream yields a message; raises what it ended with if it never did."""
    for chunk in chunks:
        messages = decoder.feed(chunk)
        if messages:
            return messages
    decoder.finish()
    return []


def _messages(
    call: Call, decoder: StreamDecoder, first: list[Message], chunks: Iterator[bytes]
) -> Generator[Message, None, None]:
    try:
        yield from first
        for chunk in chunks:
            yield from decoder.feed(chunk)
        decoder.finish()
    except httpx.HTTPError as exc:
        raise call.transport_error(exc) from exc
