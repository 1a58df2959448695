"""Message codecs: binary protobuf (the default, as the official clients send) and proto3 JSON."""

from __future__ import annotations

from typing import Literal, Protocol, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)
CodecName = Literal["proto", "json"]


class Codec(Protocol):
    name: CodecName
    unary_content_type: str
    stream_content_type: str

    def encode(self, message: Message) -> bytes: ...

    def decode(self, data: bytes, cls: type[M]) -> M: ...


class ProtoCodec:
    name: CodecName = "proto"
    unary_content_type = "application/proto"
    stream_content_type = "application/connect+proto"

    def encode(self, message: Message) -> bytes:
        return message.SerializeToString()

    def decode(self, data: bytes, cls: type[M]) -> M:
        return cls.FromString(data)


class JsonCodec:
    name: CodecName = "json"
    unary_content_type = "application/json"
    stream_content_type = "application/connect+json"

    def encode(self, message: Message) -> bytes:
        return json_format.MessageToJson(message, indent=None).encode()

    def decode(self, data: bytes, cls: type[M]) -> M:
        message = cls()
        json_format.Parse(data or b"{}", message, ignore_unknown_fields=True)
        return message


CODECS: dict[str, Codec] = {"proto": ProtoCodec(), "json": JsonCodec()}


def codec_for_content_type(content_type: str) -> Codec | None:
    """The codec named by a request or response Content-Type, or None if it names none."""
    base = content_type.split(";", 1)[0].strip().lower()
    for codec in CODECS.values():
        if base in (codec.unary_content_type, codec.stream_content_type):
            return codec
    return None
