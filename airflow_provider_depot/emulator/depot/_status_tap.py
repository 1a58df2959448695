"""BuildKit progress read off the wire between a build's client and its BuildKit.

``depot build`` reports only its own ``[depot] ...`` vertexes to the API (ReportStatusStream);
at Depot the builder itself reports BuildKit's steps. With a stock BuildKit behind the emulator's
per-lease proxy, nobody would. So the proxy taps the connection: it follows the client's HTTP/2
request headers (HPACK-decoded) to find ``/moby.buildkit.v1.Control/Status`` calls and decodes
the gRPC messages (``StatusResponse``) that BuildKit streams back on them, handing each to a
callback. The tap only reads; the bytes are piped unchanged. Anything it cannot parse turns the
tap off for that connection, never the connection itself.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import struct
from collections.abc import Callable, Iterable, Iterator
from typing import SupportsIndex

import hpack
from hyperframe.frame import ContinuationFrame, DataFrame, Frame, HeadersFrame, RstStreamFrame

from airflow_provider_depot._proto.moby.buildkit.v1 import status_pb2

log = logging.getLogger(__name__)

STATUS_PATH = b"/moby.buildkit.v1.Control/Status"
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_FRAME_HEADER = 9
_GRPC_PREFIX = struct.Struct(">BI")
_CHUNK = 256 * 1024
_MAX_TABLE = 1 << 20

StatusSink = Callable[[status_pb2.StatusResponse], None]


class _Frames:
    """Splits one direction of an HTTP/2 connection into frames."""

    def __init__(self, *, preface: bool) -> None:
        self._buffer = bytearray()
        self._preface = preface

    def feed(self, data: bytes) -> Iterator[Frame]:
        self._buffer += data
        if self._preface:
            if len(self._buffer) < len(_PREFACE):
                return
            if not self._buffer.startswith(_PREFACE):
                raise ValueError("not an HTTP/2 connection preface")
            del self._buffer[: len(_PREFACE)]
            self._preface = False
        while len(self._buffer) >= _FRAME_HEADER:
            frame, length = Frame.parse_frame_header(memoryview(self._buffer[:_FRAME_HEADER]))
            if len(self._buffer) < _FRAME_HEADER + length:
                return
            frame.parse_body(memoryview(bytes(self._buffer[_FRAME_HEADER : _FRAME_HEADER + length])))
            del self._buffer[: _FRAME_HEADER + length]
            yield frame


class StatusTap:
    """Watches both directions of one BuildKit connection; ``sink`` gets every StatusResponse."""

    def __init__(self, sink: StatusSink) -> None:
        self._sink = sink
        self._client = _Frames(preface=True)
        self._server = _Frames(preface=False)
        self._decoder = hpack.Decoder()
        self._decoder.max_allowed_table_size = _MAX_TABLE
        self._header_block: tuple[int, bytearray] | None = None
        self._status_streams: dict[int, bytearray] = {}
        self.active = True

    def from_client(self, data: bytes) -> None:
        self._guarded(self._client_frames, data)

    def from_server(self, data: bytes) -> None:
        self._guarded(self._server_frames, data)

    def _guarded(self, handler: Callable[[bytes], None], data: bytes) -> None:
        if not self.active:
            return
        try:
            handler(data)
        except Exception as exc:
            self.active = False
            log.debug("BuildKit status tap off for this connection: %s", exc)

    def _client_frames(self, data: bytes) -> None:
        for frame in self._client.feed(data):
            if isinstance(frame, HeadersFrame):
                self._header_block = (frame.stream_id, bytearray(frame.data))
            elif isinstance(frame, ContinuationFrame) and self._header_block is not None:
                self._header_block[1].extend(frame.data)
            else:
                continue
            if "END_HEADERS" in frame.flags and self._header_block is not None:
                stream_id, block = self._header_block
                self._header_block = None
                headers = self._decoder.decode(bytes(block), raw=True)
                if any(name == b":path" and value == STATUS_PATH for name, value in headers):
                    self._status_streams[stream_id] = bytearray()

    def _server_frames(self, data: bytes) -> None:
        for frame in self._server.feed(data):
            buffer = self._status_streams.get(frame.stream_id)
            if buffer is None:
                continue
            if isinstance(frame, DataFrame):
                buffer += frame.data
                self._messages(buffer)
            if isinstance(frame, RstStreamFrame) or "END_STREAM" in frame.flags:
                del self._status_streams[frame.stream_id]

    def _messages(self, buffer: bytearray) -> None:
        while len(buffer) >= _GRPC_PREFIX.size:
            compressed, length = _GRPC_PREFIX.unpack_from(buffer)
            end = _GRPC_PREFIX.size + length
            if len(buffer) < end:
                return
            payload = bytes(buffer[_GRPC_PREFIX.size : end])
            del buffer[:end]
            self._sink(
                status_pb2.StatusResponse.FromString(gzip.decompress(payload) if compressed else payload)
            )


class _TeeReader(asyncio.StreamReader):
    def __init__(self, on_data: Callable[[bytes], None]) -> None:
        super().__init__(limit=_CHUNK)
        self._on_data = on_data

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:
        chunk = bytes(data)
        self._on_data(chunk)
        super().feed_data(chunk)


class _TeeWriter(asyncio.StreamWriter):
    def __init__(
        self,
        transport: asyncio.WriteTransport,
        protocol: asyncio.BaseProtocol,
        reader: asyncio.StreamReader,
        loop: asyncio.AbstractEventLoop,
        on_data: Callable[[bytes], None],
    ) -> None:
        super().__init__(transport, protocol, reader, loop)
        self._on_data = on_data

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._on_data(bytes(data))
        super().write(data)


async def open_tapped_connection(
    host: str, port: int, tap: StatusTap
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` to BuildKit, with both directions shown to ``tap``."""
    loop = asyncio.get_running_loop()
    reader = _TeeReader(tap.from_server)
    transport, protocol = await loop.create_connection(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop), host, port
    )
    return reader, _TeeWriter(transport, protocol, reader, loop, tap.from_client)
