"""Non-200 replies: codes inferred from the HTTP status, and Connect error bodies.

Checklist: the conformance suite's ``client_http_to_rpc_code`` and ``client_unexpected`` (the
status cases), and the ``error/*`` cases of ``connect_client_error_endstream``. A stream
that fails before its first envelope answers like a unary call, so each case runs on both.
"""

from __future__ import annotations

import pytest
from connect_rpc import GET_ENDPOINT, GET_PROJECT, Front, MakeFront, get_endpoint, get_project
from google.protobuf import descriptor_pb2
from reference_server import Raw, ReferenceServer

from airflow_provider_depot.connect import Code, ConnectError

# (conformance case name, HTTP status, code the client must report), no Connect body.
STATUS_CASES = [
    ("bad-request", 400, Code.INTERNAL),
    ("unauthorized", 401, Code.UNAUTHENTICATED),
    ("forbidden", 403, Code.PERMISSION_DENIED),
    ("not-found", 404, Code.UNIMPLEMENTED),
    ("conflict", 409, Code.UNKNOWN),
    ("precondition-failed", 412, Code.UNKNOWN),
    ("payload-too-large", 413, Code.UNKNOWN),
    ("unsupported-media-type", 415, Code.UNKNOWN),
    ("too-many-requests", 429, Code.UNAVAILABLE),
    ("request-header-fields-too-large", 431, Code.UNKNOWN),
    ("bad-gateway", 502, Code.UNAVAILABLE),
    ("service-unavailable", 503, Code.UNAVAILABLE),
    ("gateway-timeout", 504, Code.UNAVAILABLE),
    ("http-version-not-supported", 505, Code.UNKNOWN),
    ("unmapped HTTP status code", 418, Code.UNKNOWN),  # client_unexpected
    ("nonexistent HTTP status code", 800, Code.UNKNOWN),  # client_unexpected
]


async def _fail(rpc: Front, kind: str) -> ConnectError:
    """The error of one GetProject (unary) or GetEndpoint (server stream) call."""
    if kind == "unary":
        with pytest.raises(ConnectError) as caught:
            await rpc.unary(GET_PROJECT, get_project("p"))
        return caught.value
    got, err = await rpc.server_stream(GET_ENDPOINT, get_endpoint("b"))
    assert got == []
    assert err is not None
    return err


@pytest.fixture(params=["unary", "server_stream"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize(("case", "status", "code"), STATUS_CASES, ids=[c[0] for c in STATUS_CASES])
async def test_status_without_connect_body(
    make_front: MakeFront, server: ReferenceServer, kind: str, case: str, status: int, code: Code
) -> None:
    base = server.raw(Raw(status=status))
    err = await _fail(make_front(base_url=base, max_retries=0), kind)
    assert err.code is code
    assert err.http_status == status
    assert err.rpc in ("ProjectService/GetProject", "BuildKitService/GetEndpoint")
    assert str(err).startswith(f"{err.rpc}: {code.value}: HTTP {status}")


@pytest.mark.parametrize(
    ("status", "content_type", "body", "code", "snippet"),
    [
        (
            502,
            "text/html",
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            Code.UNAVAILABLE,
            "502 Bad Gateway",
        ),
        (503, None, b"", Code.UNAVAILABLE, None),
        (404, "text/plain", b"404 page not found", Code.UNIMPLEMENTED, "404 page not found"),
    ],
    ids=["html-502", "empty-503", "plain-text-404"],
)
async def test_proxy_bodies_map_by_status(
    make_front: MakeFront,
    server: ReferenceServer,
    kind: str,
    status: int,
    content_type: str | None,
    body: bytes,
    code: Code,
    snippet: str | None,
) -> None:
    headers = [("content-type", content_type)] if content_type else []
    base = server.raw(Raw(status=status, headers=headers, body=body))
    err = await _fail(make_front(base_url=base, max_retries=0), kind)
    assert err.code is code
    if snippet:
        assert snippet in err.message
    else:
        assert err.message == f"HTTP {status}"


# (conformance case name, status, JSON body, code, message)
JSON_BODY_CASES = [
    ("error/null", 401, b"null", Code.UNAUTHENTICATED, None),
    ("error/null-code", 401, b'{ "code": null, "message": "oops" }', Code.UNAUTHENTICATED, "oops"),
    ("error/missing-code", 401, b'{ "message": "oops" }', Code.UNAUTHENTICATED, "oops"),
    ("error/unrecognized-code", 429, b'{ "code": "foobar", "message": "oops" }', Code.UNAVAILABLE, "oops"),
    (
        "error/allow-unrecognized-fields",
        422,
        b'{"code": "out_of_range", "message": "oops", "foobar": "baz"}',
        Code.OUT_OF_RANGE,
        "oops",
    ),
    ("code trusted over status", 500, b'{"code": "not_found", "message": "gone"}', Code.NOT_FOUND, "gone"),
]


@pytest.mark.parametrize(
    ("case", "status", "body", "code", "message"), JSON_BODY_CASES, ids=[c[0] for c in JSON_BODY_CASES]
)
async def test_connect_error_json(
    make_front: MakeFront,
    server: ReferenceServer,
    kind: str,
    case: str,
    status: int,
    body: bytes,
    code: Code,
    message: str | None,
) -> None:
    base = server.raw(Raw(status=status, headers=[("content-type", "application/json")], body=body))
    err = await _fail(make_front(base_url=base, max_retries=0), kind)
    assert err.code is code
    if message is not None:
        assert err.message == message


async def test_detail_with_unrecognized_fields(
    make_front: MakeFront, server: ReferenceServer, kind: str
) -> None:
    # error/allow-unrecognized-fields-in-details: extra keys ignored, the detail still decoded
    # (its type is known: descriptor_pb2 is imported by this module).
    body = (
        b'{"code": "out_of_range", "message": "oops", "details": [{'
        b'"type": "google.protobuf.FileDescriptorProto", "value": "Cgp0ZXN0LnByb3Rv", "frob": "nitz",'
        b' "debug": {"name": "test.proto", "foobar": true}}]}'
    )
    base = server.raw(Raw(status=422, headers=[("content-type", "application/json")], body=body))
    err = await _fail(make_front(base_url=base, max_retries=0), kind)
    assert err.code is Code.OUT_OF_RANGE
    [detail] = err.details
    assert detail.type == "google.protobuf.FileDescriptorProto"
    assert detail.message == descriptor_pb2.FileDescriptorProto(name="test.proto")


async def test_unexpected_error_body(make_front: MakeFront, server: ReferenceServer) -> None:
    # connect_client_unexpected "unexpected-error-body": a 403 whose body is a protobuf message.
    base = server.raw(
        Raw(status=403, headers=[("content-type", "application/proto")], body=b"\n\x00\x12\x05hello")
    )
    err = await _fail(make_front(base_url=base, max_retries=0), "unary")
    assert err.code is Code.PERMISSION_DENIED


async def test_redirect_is_not_followed(make_front: MakeFront, server: ReferenceServer, kind: str) -> None:
    target = server.raw(Raw(status=200))
    base = server.raw(Raw(status=307, headers=[("location", target + GET_PROJECT.path)]))
    err = await _fail(make_front(base_url=base, max_retries=0), kind)
    assert err.code is Code.UNKNOWN
    assert err.http_status == 307
    assert server.raw_requests(target) == 0
