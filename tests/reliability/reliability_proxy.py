"""A loopback TCP proxy in front of an HTTP/1.1 server that resets chosen exchanges mid-stream.

The emulator's own fault rules cut a reply at its start or its end; a connection that dies
*inside* a stream (after some messages went through) needs someone on the wire. This proxy pipes
bytes and watches the HTTP/1.1 request lines go by. A ``ResetRule`` names a request path and a
point in the exchange: after ``after`` body reads of the reply (or of the request stream, for a
client stream) it forwards ``half`` of the next read, if asked, and then resets both connections
with TCP RST (SO_LINGER 0), as a crashed load balancer would. Each rule fires once.

HTTP/1.1 only (the operators use it through the connection extra ``http2: false``): HTTP/2 frames
are binary and several streams share a connection. Good enough for a test: a request line is
recognised when a read from the client starts with ``POST ``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Literal

_REQUEST_LINE = re.compile(rb"POST (\S+) HTTP/1\.1\r\n")
_HEAD_END = b"\r\n\r\n"
_CHUNK = 65536


@dataclass
class ResetRule:
    """Reset the first exchange whose request path ends with ``path``.

    ``side="reply"``: let ``after`` reads of the reply body through, then reset on the next one
    (forwarding its first half when ``half``). ``side="request"``: the same with the reads of
    the request body (a client stream's messages).
    """

    path: str
    side: Literal["reply", "request"] = "reply"
    after: int = 0
    half: bool = False
    fired: threading.Event = field(default_factory=threading.Event)


class _Exchange:
    """What one connection is in the middle of: the current request and how far each body got."""

    def __init__(self) -> None:
        self.path = ""
        self.request_reads = 0
        self.reply_head_done = False
        self.reply_reads = 0


class ResetProxy:
    """``with ResetProxy(host, port) as proxy:`` clients use ``proxy.url``; ``proxy.arm(rule)``."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._rules: list[ResetRule] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="reset-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def arm(self, rule: ResetRule) -> ResetRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def __enter__(self) -> ResetProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _due(self, exchange: _Exchange, side: str, reads_before: int) -> ResetRule | None:
        """The armed rule that fires on this read, if any (it is then spent)."""
        with self._lock:
            for rule in self._rules:
                hit = (
                    not rule.fired.is_set()
                    and rule.side == side
                    and exchange.path.endswith(rule.path)
                    and reads_before == rule.after
                )
                if hit:
                    rule.fired.set()
                    return rule
        return None

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            client_writer.transport.abort()
            return
        exchange = _Exchange()
        writers = (client_writer, upstream_writer)
        copies = [
            asyncio.ensure_future(self._requests(client_reader, upstream_writer, exchange, writers)),
            asyncio.ensure_future(self._replies(upstream_reader, client_writer, exchange, writers)),
        ]
        await asyncio.wait(copies, return_when=asyncio.FIRST_COMPLETED)
        for task in copies:
            task.cancel()
        await asyncio.gather(*copies, return_exceptions=True)
        for writer in writers:
            writer.transport.abort()

    async def _requests(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        exchange: _Exchange,
        writers: tuple[asyncio.StreamWriter, ...],
    ) -> None:
        while data := await source.read(_CHUNK):
            line = _REQUEST_LINE.match(data)
            if line is not None:
                exchange.path = line.group(1).decode("ascii", "replace")
                exchange.request_reads = 0
                exchange.reply_head_done = False
                exchange.reply_reads = 0
                body = data.partition(_HEAD_END)[2]
            else:
                body = data
            if body:
                rule = self._due(exchange, "request", exchange.request_reads)
                exchange.request_reads += 1
                if rule is not None:
                    _reset(writers)
                    return
            sink.write(data)
            await sink.drain()

    async def _replies(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        exchange: _Exchange,
        writers: tuple[asyncio.StreamWriter, ...],
    ) -> None:
        while data := await source.read(_CHUNK):
            head, body = b"", data
            if not exchange.reply_head_done:
                end = data.find(_HEAD_END)
                if end >= 0:
                    exchange.reply_head_done = True
                    head, body = data[: end + len(_HEAD_END)], data[end + len(_HEAD_END) :]
                else:
                    head, body = data, b""
            if body:
                rule = self._due(exchange, "reply", exchange.reply_reads)
                exchange.reply_reads += 1
                if rule is not None:
                    sink.write(head + (body[: len(body) // 2] if rule.half else b""))
                    with contextlib.suppress(ConnectionError):
                        await sink.drain()
                    _reset(writers)
                    return
            sink.write(data)
            await sink.drain()


def _reset(writers: tuple[asyncio.StreamWriter, ...]) -> None:
    """Close both connections with RST rather than FIN."""
    for writer in writers:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
