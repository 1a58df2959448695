"""Connect streaming envelopes: ``flags (1 byte) | length (4 bytes, big-endian) | payload``."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterator
from dataclasses import dataclass

FLAG_COMPRESSED = 0x01
FLAG_END_STREAM = 0x02
_HEADER = struct.Struct(">BI")
HEADER_SIZE = _HEADER.size


class EnvelopeError(ValueError):
    """The byte stream is not a valid sequence of envelopes."""


@dataclass(frozen=True, slots=True)
class Envelope:
    flags: int
    payload: bytes

    @property
    def end_stream(self) -> bool:
        return bool(self.flags & FLAG_END_STREAM)


def encode_envelope(payload: bytes, *, end_stream: bool = False, compress: bool = False) -> bytes:
    """Frame one message (or the end-of-stream JSON) as an envelope."""
    flags = FLAG_END_STREAM if end_stream else 0
    if compress:
        payload = gzip.compress(payload, compresslevel=6)
        flags |= FLAG_COMPRESSED
    return _HEADER.pack(flags, len(payload)) + payload


class EnvelopeReader:
    """Incremental parser: feed it byte chunks as they arrive, iterate complete envelopes.

    Compressed envelopes are inflated with gzip, the only encoding this project offers;
    ``compressed=False`` (the peer announced no ``Connect-Content-Encoding``) makes a
    compressed envelope an error instead. ``max_message_bytes`` bounds a single envelope so
    a corrupt length cannot exhaust memory.
    """

    def __init__(self, *, max_message_bytes: int = 64 * 1024 * 1024, compressed: bool = True) -> None:
        self._buffer = bytearray()
        self._max = max_message_bytes
        self._compressed = compressed

    def feed(self, chunk: bytes) -> Iterator[Envelope]:
        self._buffer += chunk
        while len(self._buffer) >= HEADER_SIZE:
            flags, length = _HEADER.unpack_from(self._buffer)
            if length > self._max:
                raise EnvelopeError(f"envelope of {length} bytes exceeds the {self._max}-byte limit")
            end = HEADER_SIZE + length
            if len(self._buffer) < end:
                return
            payload = bytes(self._buffer[HEADER_SIZE:end])
            del self._buffer[:end]
            if flags & FLAG_COMPRESSED:
                if not self._compressed:
                    raise EnvelopeError("compressed envelope, but no message encoding was announced")
                try:
                    payload = gzip.decompress(payload)
                except (OSError, EOFError) as exc:
                    raise EnvelopeError(f"cannot inflate a compressed envelope: {exc}") from exc
            yield Envelope(flags, payload)

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole envelope (non-zero at EOF = truncated)."""
        return len(self._buffer)
