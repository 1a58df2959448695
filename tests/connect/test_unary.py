"""Unary calls against the connectrpc reference server: success, headers, every error code, gzip."""

from __future__ import annotations

import re

import pytest
from connect_rpc import CREATE_PROJECT, GET_ENDPOINT, GET_PROJECT, TOKEN, Front, MakeFront, get_project
from reference_server import Fail, Raw, ReferenceServer, new_key

from airflow_provider_depot import __version__
from airflow_provider_depot._proto.depot.core.v1 import project_pb2
from airflow_provider_depot.connect import Code, ConnectError, TransportOptions

CONTENT_TYPES = {"proto": "application/proto", "json": "application/json"}


async def test_returns_the_response_message(rpc: Front, server: ReferenceServer) -> None:
    key = new_key()
    reply = await rpc.unary(GET_PROJECT, get_project(key))
    assert isinstance(reply, project_pb2.GetProjectResponse)
    assert reply.project.project_id == key
    assert reply.project.name == f"name of {key}"
    assert server.scripts.attempts[key] == 1


async def test_sends_the_connect_headers(rpc: Front, server: ReferenceServer, codec: str) -> None:
    key = new_key()
    await rpc.unary(GET_PROJECT, get_project(key))
    [headers] = server.scripts.headers[key]
    assert headers["content-type"] == CONTENT_TYPES[codec]
    assert headers["connect-protocol-version"] == "1"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["user-agent"] == f"airflow-provider-depot/{__version__}"
    assert headers["accept-encoding"] == "gzip"
    assert "connect-timeout-ms" not in headers  # no deadline unless one is asked for


async def test_per_call_token_overrides_the_transport_token(rpc: Front, server: ReferenceServer) -> None:
    key = new_key()
    await rpc.unary(GET_PROJECT, get_project(key), token="build-token-1")
    assert server.scripts.headers[key][0]["authorization"] == "Bearer build-token-1"


async def test_no_token_sends_no_authorization(make_front: MakeFront, server: ReferenceServer) -> None:
    key = new_key()
    await make_front(token=None).unary(GET_PROJECT, get_project(key))
    assert "authorization" not in server.scripts.headers[key][0]


@pytest.mark.parametrize("code", list(Code))
async def test_every_error_code_with_details(
    make_front: MakeFront, server: ReferenceServer, code: Code
) -> None:
    rpc = make_front(max_retries=0)  # unavailable and resource_exhausted would be retried on a read
    key = new_key()
    detail = project_pb2.Project(project_id=key, name="detail")
    unknown_detail = ("acme.v1.Unknown", b"\x08\x01")
    server.scripts.set(key, Fail(code.value, f"project {key} failed", details=[detail, unknown_detail]))
    with pytest.raises(ConnectError) as caught:
        await rpc.unary(GET_PROJECT, get_project(key))
    err = caught.value
    assert err.code is code
    assert err.message == f"project {key} failed"
    assert err.rpc == "ProjectService/GetProject"
    assert err.http_status == code.http_status
    assert str(err) == f"ProjectService/GetProject: {code.value}: project {key} failed"
    known, unknown = err.details
    assert known.type == "depot.core.v1.Project"
    assert known.message == detail
    assert (unknown.type, unknown.value, unknown.message) == ("acme.v1.Unknown", b"\x08\x01", None)


@pytest.mark.parametrize("accept_gzip", [True, False])
async def test_gzip_responses_when_offered(
    make_front: MakeFront, server: ReferenceServer, accept_gzip: bool
) -> None:
    key = new_key()
    rpc = make_front(accept_gzip=accept_gzip)
    reply = await rpc.unary(GET_PROJECT, get_project(key))
    assert reply.project.project_id == key
    assert server.scripts.headers[key][0]["accept-encoding"] == ("gzip" if accept_gzip else "identity")
    path, response_headers = server.front.response_headers[-1]
    assert path == GET_PROJECT.path
    assert (response_headers.get("content-encoding") == "gzip") is accept_gzip


async def test_gzip_error_body_is_read(make_front: MakeFront, server: ReferenceServer) -> None:
    # The server compresses error bodies too when the client accepts gzip.
    key = new_key()
    server.scripts.set(key, Fail("not_found", "x" * 2000))
    with pytest.raises(ConnectError) as caught:
        await make_front(accept_gzip=True).unary(GET_PROJECT, get_project(key))
    assert (caught.value.code, caught.value.message) == (Code.NOT_FOUND, "x" * 2000)


async def test_wrong_request_type_fails_before_sending(rpc: Front, server: ReferenceServer) -> None:
    key = new_key()
    with pytest.raises(TypeError, match=r"depot\.core\.v1\.GetProjectRequest"):
        await rpc.unary(GET_PROJECT, project_pb2.CreateProjectRequest(name=key))
    assert server.scripts.attempts[key] == 0


async def test_spec_of_another_kind_is_refused(rpc: Front) -> None:
    with pytest.raises(ValueError, match="spec must be a unary MethodSpec"):
        await rpc.unary(GET_ENDPOINT, get_project("x"))


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "5", True])
async def test_bad_timeout_is_refused(rpc: Front, bad: object) -> None:
    with pytest.raises(ValueError, match="timeout"):
        await rpc.unary(GET_PROJECT, get_project("x"), timeout=bad)


async def test_per_call_token_refused_over_cleartext_to_remote_host(front_kind: str) -> None:
    # Raised before any connection is attempted: the .invalid name never resolves anyway.
    front = Front(front_kind, TransportOptions(base_url="http://api.depot.invalid"))
    try:
        with pytest.raises(ValueError, match=re.escape("base_url 'http://api.depot.invalid'")) as caught:
            await front.unary(CREATE_PROJECT, project_pb2.CreateProjectRequest(name="n"), token="secret-xyz")
        assert "secret-xyz" not in str(caught.value)
    finally:
        await front.close()


async def test_bad_per_call_token_is_refused_without_echoing_it(rpc: Front) -> None:
    with pytest.raises(ValueError, match="token contains characters") as caught:
        await rpc.unary(GET_PROJECT, get_project("x"), token="abc\r\nX-Evil: 1")
    assert "Evil" not in str(caught.value)


async def test_base_url_with_a_path_prefix(make_front: MakeFront, server: ReferenceServer) -> None:
    # A prefix is kept: the raw shim below answers only under /raw/<name>/.
    body = project_pb2.GetProjectResponse(project=project_pb2.Project(project_id="prefixed"))
    base = server.raw(
        lambda headers: Raw(
            headers=[("content-type", headers["content-type"])],
            body=body.SerializeToString()
            if headers["content-type"] == "application/proto"
            else b'{"project": {"projectId": "prefixed"}}',
        )
    )
    reply = await make_front(base_url=base + "/").unary(GET_PROJECT, get_project("p"))
    assert reply.project.project_id == "prefixed"
    assert server.front.raw_headers[base.rsplit("/", 1)[1]]["content-type"].startswith("application/")
