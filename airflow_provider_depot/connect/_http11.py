"""One cleartext HTTP/1.1 client connection on an ``asyncio.Protocol`` (RFC 9112).

httpcore, h11 and anyio took nearly half the CPU of an async Connect call (64 in flight on
loopback), so the pool's http:// connections speak HTTP/1.1 here: the request head and a
bytes body leave in one write, the response head is parsed from the bytes the event loop
hands over, and the body is yielded as it arrives. Failures are the httpx exceptions
``_retry`` classifies: nothing was sent (``ConnectError``, ``ConnectTimeout``) or the request
may have reached the server (``WriteError``, ``WriteTimeout``, ``ReadError``, ``ReadTimeout``,
``RemoteProtocolError``).
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import AsyncIterator, Callable, Mapping

import httpx

_MAX_HEAD = 64 * 1024  # bytes of a response head (status line and header fields)
_HIGH_WATER = 256 * 1024  # unread bytes above which the socket is no longer read
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_NO_BODY_STATUSES = frozenset({204, 304})
Timeouts = Mapping[str, float | None]


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


async def wait_for_signal(waiter: asyncio.Future[bool], timeout: float | None) -> bool:
    """Await ``waiter`` (set to True by whoever signals it); False once ``timeout`` passed first.

    Unlike ``asyncio.wait_for`` a timeout does not cancel ``waiter``, so a cancelled waiter
    always means the awaiting task itself was cancelled.
    """
    if timeout is None:
        return await waiter
    timer = waiter.get_loop().call_later(max(timeout, 0.0), _expire, waiter)
    try:
        return await waiter
    finally:
        timer.cancel()


class Http11Connection(asyncio.Protocol):
    """A keep-alive connection serving one request at a time."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._fd = -1
        self._buffer = bytearray()
        self._eof = False
        self._lost: Exception | None = None
        self._reading_paused = False
        self._writing_paused = False
        self._waiter: asyncio.Future[bool] | None = None

    @classmethod
    async def open(cls, host: str, port: int, timeout: float | None) -> Http11Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(loop.create_connection(cls, host, port), timeout)
        except asyncio.TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return connection

    # -- asyncio.Protocol callbacks ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._fd = transport.get_extra_info("socket").fileno()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > _HIGH_WATER and self._transport is not None:
            self._transport.pause_reading()
            self._reading_paused = True
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._lost = exc
        self._wake()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    # -- lifecycle --------------------------------------------------------------------------

    def reusable(self) -> bool:
        """True if idle and intact: nothing unread, and the socket shows neither EOF nor data.

        The poll sees a close the event loop has not handled yet, so a request is not sent
        on a connection the server already dropped.
        """
        if not self._intact():
            return False
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        return not poller.poll(0)

    def finish(self, reusable: bool) -> bool:
        """End an exchange: keep the connection if ``reusable`` and nothing followed the body."""
        if reusable and self._intact():
            return True
        self.close()
        return False

    def _intact(self) -> bool:
        transport = self._transport
        return not (self._eof or self._buffer or transport is None or transport.is_closing())

    def close(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # -- one exchange -----------------------------------------------------------------------

    async def send(
        self, request: httpx.Request, timeouts: Timeouts, done: Callable[[bool], None]
    ) -> httpx.Response:
        """Send ``request`` and read the response head; ``done(reusable)`` runs when its body closes.

        On any exception ``done`` is never called: the caller closes the connection.
        """
        try:
            await self._send_request(request, timeouts.get("write"))
            return await self._read_response(request, timeouts.get("read"), done)
        except httpx.TransportError as exc:
            exc.request = request
            raise

    async def _send_request(self, request: httpx.Request, timeout: float | None) -> None:
        headers = request.headers
        stream = request.stream
        fields = headers.raw
        chunked = "transfer-encoding" in headers
        body = b"".join(stream) if isinstance(stream, httpx.ByteStream) else None
        if not chunked and "content-length" not in headers:
            if body is None:
                chunked = True
                fields.append((b"Transfer-Encoding", b"chunked"))
            else:
                fields.append((b"Content-Length", b"%d" % len(body)))
        head = b"".join(
            [
                request.method.encode("ascii"),
                b" ",
                request.url.raw_path,
                b" HTTP/1.1\r\n",
                *[b"%s: %s\r\n" % field for field in fields],
                b"\r\n",
            ]
        )
        if head.count(b"\n") != len(fields) + 2 or head.count(b"\r") != len(fields) + 2:
            raise httpx.LocalProtocolError("a request header name or value holds CR or LF")
        if body is not None:
            self._write(head + body if not chunked else head + _chunk(body) + b"0\r\n\r\n")
            await self._drain(timeout)
            return
        self._write(head)
        assert isinstance(stream, httpx.AsyncByteStream)
        async for part in stream:
            if part:
                self._write(_chunk(part) if chunked else part)
                await self._drain(timeout)
        if chunked:
            self._write(b"0\r\n\r\n")
        await self._drain(timeout)

    def _write(self, data: bytes) -> None:
        if self._transport is None or self._lost is not None or self._transport.is_closing():
            raise httpx.WriteError("the connection was closed while sending the request")
        self._transport.write(data)

    async def _drain(self, timeout: float | None) -> None:
        while self._writing_paused:
            if self._lost is not None or self._eof:
                raise httpx.WriteError("the connection was closed while sending the request")
            if not await self._signal(timeout):
                raise httpx.WriteTimeout("sending the request timed out")

    async def _signal(self, timeout: float | None) -> bool:
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            return await wait_for_signal(waiter, timeout)
        finally:
            self._waiter = None

    async def _more(self, timeout: float | None, what: str) -> None:
        """Wait until bytes (or EOF) arrive; raises ReadError/ReadTimeout."""
        if self._lost is not None:
            raise httpx.ReadError(str(self._lost) or type(self._lost).__name__)
        if self._reading_paused and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()
        if not await self._signal(timeout):
            raise httpx.ReadTimeout(f"timed out reading {what}")
        if self._lost is not None:
            raise httpx.ReadError(str(self._lost) or type(self._lost).__name__)

    def _take(self, limit: int | None = None) -> bytes:
        buffer = self._buffer
        if limit is None or len(buffer) <= limit:
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:limit])
            del buffer[:limit]
        return data

    async def _line(self, timeout: float | None, what: str) -> bytes:
        """One CRLF-terminated line (without its CRLF), as in chunked framing."""
        while True:
            end = self._buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 2]
                return line
            if len(self._buffer) > _MAX_HEAD:
                raise httpx.RemoteProtocolError(f"{what} line too long")
            if self._eof:
                raise httpx.RemoteProtocolError(f"peer closed connection without sending complete {what}")
            await self._more(timeout, what)

    async def _read_response(
        self, request: httpx.Request, timeout: float | None, done: Callable[[bool], None]
    ) -> httpx.Response:
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEAD:
                    raise httpx.RemoteProtocolError("response head too long")
                if self._eof:
                    raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
                await self._more(timeout, "the response head")
                continue
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            version, status, reason, fields = _parse_head(head)
            if status >= 200:
                break
            if status == 101:
                raise httpx.RemoteProtocolError("unexpected 101 Switching Protocols")
        length, keep_alive = _framing(version, status, fields)
        if request.method == "HEAD":
            length = 0
        body = _Body(self, request, timeout, length, keep_alive, done)
        return httpx.Response(
            status,
            headers=fields,
            stream=body,
            extensions={"http_version": version, "reason_phrase": reason},
        )

    async def body_parts(self, length: int | None, timeout: float | None) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive: ``length`` bytes, chunked (-1), or until EOF (None)."""
        if length is None:
            while True:
                if self._buffer:
                    yield self._take()
                elif self._eof:
                    return
                else:
                    await self._more(timeout, "the response body")
        elif length >= 0:
            async for part in self._exactly(length, timeout):
                yield part
        else:
            while True:
                size_line = (await self._line(timeout, "chunk size")).split(b";", 1)[0].strip(b" \t")
                if not size_line or size_line.strip(_HEX_DIGITS):
                    raise httpx.RemoteProtocolError(f"invalid chunk size {size_line[:20]!r}")
                size = int(size_line, 16)
                if size == 0:
                    while await self._line(timeout, "chunked trailer"):
                        pass
                    return
                async for part in self._exactly(size, timeout):
                    yield part
                if await self._line(timeout, "chunk") != b"":
                    raise httpx.RemoteProtocolError("chunk data not followed by CRLF")

    async def _exactly(self, length: int, timeout: float | None) -> AsyncIterator[bytes]:
        while length:
            if self._buffer:
                part = self._take(length)
                length -= len(part)
                yield part
            elif self._eof:
                raise httpx.RemoteProtocolError("peer closed connection before the end of the body")
            else:
                await self._more(timeout, "the response body")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _parse_head(head: bytes) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]]]:
    """Version, status, reason phrase and header fields of a response head."""
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code, _, reason = rest.partition(b" ")
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise httpx.RemoteProtocolError(f"invalid status line {lines[0][:80]!r}")
    fields = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip(b" \t"):  # a leading space is obs-fold
            raise httpx.RemoteProtocolError(f"invalid header line {line[:80]!r}")
        fields.append((name, value.strip(b" \t")))
    return version, int(code), reason, fields


def _framing(version: bytes, status: int, fields: list[tuple[bytes, bytes]]) -> tuple[int | None, bool]:
    """The body's length (-1: chunked, None: until EOF) and whether the connection stays open."""
    keep_alive = version == b"HTTP/1.1"
    codings: list[bytes] = []
    lengths: set[bytes] = set()
    for name, value in fields:
        key = name.lower()
        if key == b"transfer-encoding":
            codings += [coding.strip(b" \t").lower() for coding in value.split(b",")]
        elif key == b"content-length":
            lengths.update(part.strip(b" \t") for part in value.split(b","))
        elif key == b"connection":
            options = {option.strip(b" \t").lower() for option in value.split(b",")}
            if b"close" in options:
                keep_alive = False
            elif b"keep-alive" in options:
                keep_alive = keep_alive or version == b"HTTP/1.0"
    if status in _NO_BODY_STATUSES:
        return 0, keep_alive
    if codings:
        if codings[-1] == b"chunked":
            return -1, keep_alive and not lengths
        return None, False
    if lengths:
        length = lengths.pop()
        if lengths or not length.isdigit():
            raise httpx.RemoteProtocolError("invalid Content-Length")
        return int(length), keep_alive
    return None, False


class _Body(httpx.AsyncByteStream):
    """A response body read from its connection as it arrives; closing it ends the exchange.

    ``done(True)`` hands the connection back when the body was read to its end on a
    keep-alive connection; otherwise (unread rest, error, cancellation) it is closed first.
    """

    def __init__(
        self,
        connection: Http11Connection,
        request: httpx.Request,
        timeout: float | None,
        length: int | None,
        keep_alive: bool,
        done: Callable[[bool], None],
    ) -> None:
        self._connection = connection
        self._request = request
        self._timeout = timeout
        self._length = length
        self._keep_alive = keep_alive
        self._done: Callable[[bool], None] | None = done
        self._complete = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._done is None:
            raise httpx.StreamClosed()
        try:
            async for part in self._connection.body_parts(self._length, self._timeout):
                yield part
        except httpx.TransportError as exc:
            exc.request = self._request
            raise
        self._complete = True

    async def aclose(self) -> None:
        done, self._done = self._done, None
        if done is None:
            return
        done(self._connection.finish(self._complete and self._keep_alive))
