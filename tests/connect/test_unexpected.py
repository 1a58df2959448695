"""Malformed and surprising 200 replies, streams that end badly, and end-of-stream errors.

Checklist: the conformance suite's ``connect_client_unexpected`` cases and the
``end-stream/*`` cases of ``connect_client_error_endstream`` (case names in the comments),
plus a few of our own. Responses come from the raw shim, encoded with the codec the request
used, so every case also runs with both codecs.
"""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Callable

import pytest
from connect_rpc import (
    GET_ENDPOINT,
    GET_PROJECT,
    REPORT_HEALTH,
    Front,
    MakeFront,
    get_endpoint,
    get_project,
    health,
)
from google.protobuf import descriptor_pb2, json_format
from google.protobuf.message import Message
from reference_server import Raw, RawFactory, ReferenceServer

from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot._proto.depot.core.v1 import project_pb2
from airflow_provider_depot.connect import Code, ConnectError

PENDING = buildkit_pb2.GetEndpointResponse(pending=buildkit_pb2.GetEndpointResponse.PendingConnection())
Headers = dict[str, str]


def encoded(headers: Headers, message: Message) -> bytes:
    """``message`` in the codec of the request whose headers these are."""
    if headers["content-type"].endswith("json"):
        return json_format.MessageToJson(message).encode()
    return message.SerializeToString()


def frame(payload: bytes, flags: int = 0, length: int | None = None) -> bytes:
    return struct.pack(">BI", flags, len(payload) if length is None else length) + payload


def end(body: object = None) -> bytes:
    return frame(json.dumps({} if body is None else body).encode(), flags=2)


def other_codec(content_type: str) -> str:
    return (
        content_type.replace("json", "proto")
        if content_type.endswith("json")
        else content_type.replace("proto", "json")
    )


def streamed(
    body: Callable[[Headers], bytes], *, content_type: str | None = None, **headers: str
) -> RawFactory:
    """A raw 200 stream reply in the request's content type (or ``content_type``)."""

    def reply(request: Headers) -> Raw:
        answer = [("content-type", content_type or request["content-type"])]
        answer += [(name.replace("_", "-"), value) for name, value in headers.items()]
        return Raw(headers=answer, body=body(request))

    return reply


async def stream_of(
    make_front: MakeFront, server: ReferenceServer, reply: RawFactory
) -> tuple[list[Message], ConnectError | None]:
    rpc = make_front(base_url=server.raw(reply), max_retries=0)
    return await rpc.server_stream(GET_ENDPOINT, get_endpoint("b"))


# -- server streams ---------------------------------------------------------------------


async def test_server_stream_without_end_of_stream(make_front: MakeFront, server: ReferenceServer) -> None:
    # server-stream/no-end-stream: the message is delivered, then the stream fails.
    got, err = await stream_of(make_front, server, streamed(lambda h: frame(encoded(h, PENDING))))
    assert got == [PENDING]
    assert err is not None and err.code is Code.INTERNAL
    assert "without an end-of-stream" in err.message


async def test_server_stream_incomplete_message(make_front: MakeFront, server: ReferenceServer) -> None:
    # server-stream/incomplete-message: the prefix promises 10 bytes, the body has 3.
    got, err = await stream_of(
        make_front, server, streamed(lambda h: frame(encoded(h, PENDING)) + frame(b"\x00\x00\x00", length=10))
    )
    assert got == [PENDING]
    assert err is not None and err.code is Code.INTERNAL
    assert "truncated" in err.message


async def test_server_stream_incomplete_message_prefix(
    make_front: MakeFront, server: ReferenceServer
) -> None:
    # server-stream/incomplete-message-prefix: an empty message, then 3 bytes of the next prefix.
    empty = buildkit_pb2.GetEndpointResponse()
    got, err = await stream_of(
        make_front, server, streamed(lambda h: frame(encoded(h, empty)) + b"\x00\x00\x00")
    )
    assert got == [empty]
    assert err is not None and err.code is Code.INTERNAL


async def test_server_stream_connection_cut(make_front: MakeFront, cutting_server: ReferenceServer) -> None:
    # Our case: the connection breaks mid-envelope (HTTP/2: hypercorn abandons the stream and
    # the idle connection is closed under it).
    def reply(h: Headers) -> Raw:
        whole = frame(encoded(h, PENDING))
        return Raw(headers=[("content-type", h["content-type"])], body=whole + whole[:3], abort_after=True)

    got, err = await stream_of(make_front, cutting_server, reply)
    assert got == [PENDING]
    assert err is not None and err.code is Code.UNAVAILABLE
    assert err.rpc == "BuildKitService/GetEndpoint"


async def test_unexpected_stream_codec(make_front: MakeFront, server: ReferenceServer) -> None:
    # unexpected-stream-codec: the reply is in the other codec of the protocol.
    reply = streamed(lambda h: frame(encoded(h, PENDING)) + end())

    def other(h: Headers) -> Raw:
        raw = reply(h)
        return Raw(headers=[("content-type", other_codec(h["content-type"]))], body=raw.body)

    got, err = await stream_of(make_front, server, other)
    assert got == []
    assert err is not None and err.code is Code.INTERNAL


async def test_stream_reply_that_is_not_connect(make_front: MakeFront, server: ReferenceServer) -> None:
    # Our case: a 200 that is not a Connect stream at all (a captive portal's page).
    got, err = await stream_of(
        make_front, server, streamed(lambda h: b"<html></html>", content_type="text/html")
    )
    assert got == []
    assert err is not None and err.code is Code.UNKNOWN


async def test_unexpected_compressed_message(make_front: MakeFront, server: ReferenceServer) -> None:
    # unexpected-compressed-message: flag 0x01 although Connect-Content-Encoding is identity.
    reply = streamed(
        lambda h: frame(encoded(h, PENDING), flags=1) + end(), connect_content_encoding="identity"
    )
    got, err = await stream_of(make_front, server, reply)
    assert got == []
    assert err is not None and err.code is Code.INTERNAL


async def test_unsupported_message_encoding(make_front: MakeFront, server: ReferenceServer) -> None:
    # Our case: an encoding we never offered.
    reply = streamed(lambda h: frame(encoded(h, PENDING)) + end(), connect_content_encoding="br")
    got, err = await stream_of(make_front, server, reply)
    assert got == []
    assert err is not None and err.code is Code.INTERNAL


async def test_gzip_envelopes_are_inflated(make_front: MakeFront, server: ReferenceServer) -> None:
    # Our case: compressed messages and a compressed end-of-stream error.
    def body(h: Headers) -> bytes:
        error = json.dumps({"error": {"code": "aborted", "message": "late"}}).encode()
        return frame(gzip.compress(encoded(h, PENDING)), flags=1) + frame(gzip.compress(error), flags=3)

    got, err = await stream_of(make_front, server, streamed(body, connect_content_encoding="gzip"))
    assert got == [PENDING]
    assert err is not None and (err.code, err.message) == (Code.ABORTED, "late")


async def test_data_after_end_of_stream(make_front: MakeFront, server: ReferenceServer) -> None:
    # Our case: nothing may follow the end-of-stream message.
    got, err = await stream_of(make_front, server, streamed(lambda h: end() + frame(encoded(h, PENDING))))
    assert got == []
    assert err is not None and err.code is Code.INTERNAL


async def test_end_of_stream_not_json(make_front: MakeFront, server: ReferenceServer) -> None:
    got, err = await stream_of(make_front, server, streamed(lambda h: frame(b"{oops", flags=2)))
    assert got == []
    assert err is not None and err.code is Code.INTERNAL


@pytest.mark.parametrize(
    ("case", "end_stream", "code", "message"),
    [
        ("end-stream/null-error", {"error": None}, None, None),
        ("end-stream/null-code", {"error": {"code": None, "message": "oops"}}, Code.UNKNOWN, "oops"),
        ("end-stream/missing-code", {"error": {"message": "oops"}}, Code.UNKNOWN, "oops"),
        (
            "end-stream/unrecognized-code",
            {"error": {"code": "foobar", "message": "oops"}},
            Code.UNKNOWN,
            "oops",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and "/" in value else "",
)
async def test_end_of_stream_errors(
    make_front: MakeFront,
    server: ReferenceServer,
    case: str,
    end_stream: object,
    code: Code | None,
    message: str | None,
) -> None:
    got, err = await stream_of(make_front, server, streamed(lambda h: end(end_stream)))
    assert got == []
    if code is None:
        assert err is None
    else:
        assert err is not None
        assert (err.code, err.message, err.rpc) == (code, message, "BuildKitService/GetEndpoint")


async def test_end_of_stream_unrecognized_fields(make_front: MakeFront, server: ReferenceServer) -> None:
    # end-stream/allow-unrecognized-fields, with the metadata an end-of-stream may carry.
    body = {
        "error": {
            "code": "out_of_range",
            "message": "oops",
            "foobar": "baz",
            "details": [
                {
                    "type": "google.protobuf.FileDescriptorProto",
                    "value": "Cgp0ZXN0LnByb3Rv",
                    "frob": "nitz",
                    "debug": {"name": "test.proto", "foobar": True},
                }
            ],
        },
        "metadata": {"X-Trace": ["a", "b"]},
    }
    got, err = await stream_of(make_front, server, streamed(lambda h: frame(encoded(h, PENDING)) + end(body)))
    assert got == [PENDING]
    assert err is not None
    assert (err.code, err.message) == (Code.OUT_OF_RANGE, "oops")
    assert [d.message for d in err.details] == [descriptor_pb2.FileDescriptorProto(name="test.proto")]
    assert err.metadata == {"x-trace": "a, b"}


# -- unary ----------------------------------------------------------------------------------


async def _unary_error(
    make_front: MakeFront, server: ReferenceServer, reply: RawFactory | Raw
) -> ConnectError:
    rpc = make_front(base_url=server.raw(reply), max_retries=0)
    with pytest.raises(ConnectError) as caught:
        await rpc.unary(GET_PROJECT, get_project("p"))
    return caught.value


RESPONSE = project_pb2.GetProjectResponse(project=project_pb2.Project(project_id="p"))


async def test_unexpected_content_type(make_front: MakeFront, server: ReferenceServer) -> None:
    # unexpected-content-type: a 200 image/jpeg is not a Connect reply.
    err = await _unary_error(
        make_front, server, Raw(headers=[("content-type", "image/jpeg")], body=b"\xff\xd8")
    )
    assert err.code is Code.UNKNOWN


async def test_missing_content_type(make_front: MakeFront, server: ReferenceServer) -> None:
    err = await _unary_error(make_front, server, Raw(body=b""))
    assert err.code is Code.UNKNOWN


async def test_unexpected_codec(make_front: MakeFront, server: ReferenceServer) -> None:
    # unexpected-codec: the reply is in the other codec.
    def reply(h: Headers) -> Raw:
        return Raw(headers=[("content-type", other_codec(h["content-type"]))], body=encoded(h, RESPONSE))

    err = await _unary_error(make_front, server, reply)
    assert err.code is Code.INTERNAL
    assert "Content-Type" in err.message


async def test_unexpected_compression(make_front: MakeFront, server: ReferenceServer) -> None:
    # unexpected-compression: Content-Encoding "foo" was never offered.
    def reply(h: Headers) -> Raw:
        return Raw(
            headers=[("content-type", h["content-type"]), ("content-encoding", "foo")],
            body=encoded(h, RESPONSE),
        )

    err = await _unary_error(make_front, server, reply)
    assert err.code is Code.INTERNAL


async def test_corrupt_gzip_body(make_front: MakeFront, server: ReferenceServer) -> None:
    def reply(h: Headers) -> Raw:
        return Raw(
            headers=[("content-type", h["content-type"]), ("content-encoding", "gzip")], body=b"not gzip"
        )

    err = await _unary_error(make_front, server, reply)
    assert err.code is Code.INTERNAL


async def test_body_that_is_not_the_message(make_front: MakeFront, server: ReferenceServer) -> None:
    err = await _unary_error(
        make_front, server, lambda h: Raw(headers=[("content-type", h["content-type"])], body=b"\xff")
    )
    assert err.code is Code.INTERNAL
    assert "cannot decode" in err.message


async def test_content_type_parameters_are_accepted(
    rpc: Front, make_front: MakeFront, server: ReferenceServer
) -> None:
    def reply(h: Headers) -> Raw:
        return Raw(
            headers=[("content-type", h["content-type"] + "; charset=utf-8")], body=encoded(h, RESPONSE)
        )

    front = make_front(base_url=server.raw(reply))
    assert await front.unary(GET_PROJECT, get_project("p")) == RESPONSE


# -- client streams -------------------------------------------------------------------------


async def _client_stream_error(
    make_front: MakeFront, server: ReferenceServer, reply: RawFactory
) -> ConnectError:
    rpc = make_front(base_url=server.raw(reply), max_retries=0)
    with pytest.raises(ConnectError) as caught:
        await rpc.client_stream(REPORT_HEALTH, health("b", 2))
    return caught.value


HEALTH_OK = buildkit_pb2.ReportHealthResponse()


async def test_client_stream_ok_but_no_response(make_front: MakeFront, server: ReferenceServer) -> None:
    # client-stream/ok-but-no-response: the end-of-stream holds no "error" key, and no message came.
    err = await _client_stream_error(
        make_front, server, streamed(lambda h: end({"code": "out_of_range", "message": "oops"}))
    )
    assert err.code is Code.UNIMPLEMENTED


async def test_client_stream_multiple_responses(make_front: MakeFront, server: ReferenceServer) -> None:
    # client-stream/multiple-responses
    body = streamed(
        lambda h: frame(encoded(h, HEALTH_OK)) * 2 + end({"code": "out_of_range", "message": "oops"})
    )
    err = await _client_stream_error(make_front, server, body)
    assert err.code is Code.UNIMPLEMENTED


async def test_client_stream_without_end_of_stream(make_front: MakeFront, server: ReferenceServer) -> None:
    # client-stream/no-end-stream
    err = await _client_stream_error(make_front, server, streamed(lambda h: frame(encoded(h, HEALTH_OK))))
    assert err.code is Code.INTERNAL


async def test_client_stream_error_in_end_of_stream(make_front: MakeFront, server: ReferenceServer) -> None:
    err = await _client_stream_error(
        make_front, server, streamed(lambda h: end({"error": {"code": "permission_denied", "message": "no"}}))
    )
    assert (err.code, err.message, err.rpc) == (Code.PERMISSION_DENIED, "no", "BuildKitService/ReportHealth")
