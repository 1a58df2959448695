"""The Connect protocol as the emulator speaks it: codecs, HTTP versions, gzip, streams, errors."""

from __future__ import annotations

import gzip
import json

import pytest
from emulator_support import Rpc, Wire

from airflow_provider_depot._proto.depot.build.v1 import registry_pb2
from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot._proto.depot.core.v1 import org_pb2, project_pb2
from airflow_provider_depot.connect import Code, ConnectError
from airflow_provider_depot.connect._envelope import FLAG_COMPRESSED, EnvelopeReader, encode_envelope
from airflow_provider_depot.emulator import run_emulator

GET_PROJECT = "/depot.core.v1.ProjectService/GetProject"
GET_ENDPOINT = "/depot.buildkit.v1.BuildKitService/GetEndpoint"
REPORT_HEALTH = "/depot.buildkit.v1.BuildKitService/ReportHealth"


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "h2c"])
def test_unary_binary_proto_on_both_http_versions(emulator, project, http2):
    wire = Wire(emulator.url, emulator.token, http2=http2)
    try:
        reply = wire.post(
            GET_PROJECT, project_pb2.GetProjectRequest(project_id=project.project_id).SerializeToString()
        )
    finally:
        wire.close()
    assert reply.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/proto"
    got = project_pb2.GetProjectResponse.FromString(reply.content).project
    assert (got.project_id, got.name, got.region_id) == (project.project_id, "app", "us-east-1")


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "h2c"])
def test_unary_json(emulator, project, http2):
    wire = Wire(emulator.url, emulator.token, http2=http2)
    try:
        reply = wire.post(
            GET_PROJECT,
            json.dumps({"projectId": project.project_id}).encode(),
            content_type="application/json",
        )
    finally:
        wire.close()
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert body["project"]["projectId"] == project.project_id
    assert body["project"]["cachePolicy"] == {"keepBytes": str(50 << 30), "keepDays": 14, "keepGb": 50}


def test_an_empty_request_message_is_zero_bytes(wire):
    reply = wire.post("/depot.core.v1.OrganizationService/ListOrganizations", b"")
    assert reply.status_code == 200
    orgs = org_pb2.ListOrganizationsResponse.FromString(reply.content).organizations
    assert [o.name for o in orgs] == ["Emulated organization"]


def test_gzip_reply_only_when_offered_and_large(emulator, project, wire):
    emulator.admin.add_synthetic_images(project.project_id, 100)
    body = registry_pb2.ListImagesRequest(project_id=project.project_id).SerializeToString()
    plain = wire.post("/depot.build.v1.RegistryService/ListImages", body)
    assert "content-encoding" not in plain.headers
    offered = wire.post(
        "/depot.build.v1.RegistryService/ListImages", body, headers={"accept-encoding": "gzip"}
    )
    assert offered.headers["content-encoding"] == "gzip"
    # httpx inflated it; the inflated bytes are the same message as the plain reply.
    assert registry_pb2.ListImagesResponse.FromString(
        offered.content
    ) == registry_pb2.ListImagesResponse.FromString(plain.content)
    small = wire.post(
        GET_PROJECT,
        project_pb2.GetProjectRequest(project_id=project.project_id).SerializeToString(),
        headers={"accept-encoding": "gzip"},
    )
    assert "content-encoding" not in small.headers  # below compress_min_bytes


def test_gzip_request_body(wire, project):
    body = gzip.compress(project_pb2.GetProjectRequest(project_id=project.project_id).SerializeToString())
    reply = wire.post(GET_PROJECT, body, headers={"content-encoding": "gzip"})
    assert reply.status_code == 200
    assert project_pb2.GetProjectResponse.FromString(reply.content).project.project_id == project.project_id


def test_unsupported_request_encoding_is_unimplemented(wire, project):
    reply = wire.post(GET_PROJECT, b"\x00", headers={"content-encoding": "br"})
    assert reply.status_code == 501
    assert reply.json()["code"] == "unimplemented"


def test_unknown_path_is_unimplemented_404(wire):
    reply = wire.post("/depot.core.v1.ProjectService/NoSuchMethod", b"")
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {"code": "unimplemented", "message": "404 Not Found"}
    # What the CLI prints for it: "<code>: <message>".
    err = ConnectError(Code(reply.json()["code"]), reply.json()["message"])
    assert str(err) == "unimplemented: 404 Not Found"


def test_unknown_paths_are_audited(emulator, wire):
    wire.post("/depot.core.v1.ProjectService/NoSuchMethod", b"")
    (entry,) = emulator.admin.audit()
    assert (entry["procedure"], entry["token_kind"], entry["code"], entry["http_status"]) == (
        "depot.core.v1.ProjectService/NoSuchMethod",
        "org",
        "unimplemented",
        404,
    )


def test_get_is_not_allowed(emulator, wire):
    reply = wire.client.get(GET_PROJECT)
    assert reply.status_code == 405
    assert reply.headers["allow"] == "POST"


def test_unknown_content_type_is_415(wire):
    assert wire.post(GET_PROJECT, b"", content_type="text/plain").status_code == 415
    # A streaming content type on a unary method is refused too.
    assert wire.post(GET_PROJECT, b"", content_type="application/connect+proto").status_code == 415


def test_undecodable_body_is_invalid_argument(wire):
    reply = wire.post(GET_PROJECT, b"\xff\xff\xff")
    assert reply.status_code == 400
    assert reply.json()["code"] == "invalid_argument"


def test_not_found_error_json(wire):
    reply = wire.post(GET_PROJECT, project_pb2.GetProjectRequest(project_id="nosuchproj").SerializeToString())
    assert reply.status_code == 404
    assert reply.json() == {"code": "not_found", "message": "project nosuchproj not found"}


@pytest.mark.parametrize("value", ["abc", "-1", "12345678901"])
def test_malformed_timeout_header_is_invalid_argument(wire, project, value):
    body = project_pb2.GetProjectRequest(project_id=project.project_id).SerializeToString()
    reply = wire.post(GET_PROJECT, body, headers={"connect-timeout-ms": value})
    assert reply.status_code == 400
    assert reply.json()["code"] == "invalid_argument"


def test_timeout_header_within_budget_succeeds(wire, project):
    body = project_pb2.GetProjectRequest(project_id=project.project_id).SerializeToString()
    assert wire.post(GET_PROJECT, body, headers={"connect-timeout-ms": "29999"}).status_code == 200


def test_deadline_ends_a_slow_unary_call(emulator, wire, project):
    emulator.admin.add_faults([{"method": "*GetProject", "action": "delay", "delay_ms": 3000}])
    body = project_pb2.GetProjectRequest(project_id=project.project_id).SerializeToString()
    reply = wire.post(GET_PROJECT, body, headers={"connect-timeout-ms": "50"})
    assert reply.status_code == 504
    assert reply.json()["code"] == "deadline_exceeded"


def _build(emulator, project):
    build_id, token = emulator.admin.create_build(project.project_id)
    return build_id, token


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "h2c"])
def test_server_stream_proto(emulator, project, http2):
    build_id, token = _build(emulator, project)
    wire = Wire(emulator.url, token, http2=http2)
    try:
        request = buildkit_pb2.GetEndpointRequest(build_id=build_id, platform=buildkit_pb2.PLATFORM_AMD64)
        reply = wire.stream(GET_ENDPOINT, [request.SerializeToString()])
    finally:
        wire.close()
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/connect+proto"
    kinds = [buildkit_pb2.GetEndpointResponse.FromString(m).WhichOneof("connection") for m in reply.messages]
    assert kinds == ["pending", "active"]  # the fixture's emulator answers pending once
    assert reply.end == {}
    assert reply.leftover == 0


def test_server_stream_json(emulator, project):
    build_id, token = _build(emulator, project)
    wire = Wire(emulator.url, token)
    try:
        reply = wire.stream(
            GET_ENDPOINT,
            [json.dumps({"buildId": build_id, "platform": "PLATFORM_ARM64"}).encode()],
            content_type="application/connect+json",
        )
    finally:
        wire.close()
    assert reply.headers["content-type"] == "application/connect+json"
    decoded = [json.loads(m) for m in reply.messages]
    assert decoded[0] == {"pending": {}}
    active = decoded[-1]["active"]
    assert active["serverName"].startswith(build_id)
    assert active["caCert"]["cert"].startswith("-----BEGIN CERTIFICATE-----")
    assert reply.end == {}


def test_server_stream_compresses_envelopes_when_offered(emulator, project):
    build_id, token = _build(emulator, project)
    wire = Wire(emulator.url, token)
    try:
        request = buildkit_pb2.GetEndpointRequest(build_id=build_id, platform=buildkit_pb2.PLATFORM_AMD64)
        raw = wire.post(
            GET_ENDPOINT,
            encode_envelope(request.SerializeToString()),
            content_type="application/connect+proto",
            headers={"connect-accept-encoding": "gzip"},
        )
    finally:
        wire.close()
    assert raw.headers["connect-content-encoding"] == "gzip"
    envelopes = list(EnvelopeReader().feed(raw.content))
    # The active reply (PEM certificates, > 1 KiB) is compressed; the tiny pending one is not.
    assert [bool(e.flags & FLAG_COMPRESSED) for e in envelopes] == [False, True, False]
    active = buildkit_pb2.GetEndpointResponse.FromString(envelopes[1].payload).active
    assert active.cert.key.key.startswith("-----BEGIN PRIVATE KEY-----")


def test_stream_errors_are_http_200_with_an_end_stream_error(emulator, project):
    wire = Wire(emulator.url, "not-a-token")
    try:
        request = buildkit_pb2.GetEndpointRequest(build_id="bnosuchbuild")
        reply = wire.stream(GET_ENDPOINT, [request.SerializeToString()])
    finally:
        wire.close()
    assert reply.status == 200
    assert reply.messages == []
    assert reply.end == {"error": {"code": "unauthenticated", "message": "missing or invalid bearer token"}}


def test_server_stream_request_must_hold_exactly_one_message(emulator, project):
    build_id, token = _build(emulator, project)
    wire = Wire(emulator.url, token)
    try:
        one = buildkit_pb2.GetEndpointRequest(build_id=build_id).SerializeToString()
        reply = wire.stream(GET_ENDPOINT, [one, one])
    finally:
        wire.close()
    assert reply.end["error"]["code"] == "invalid_argument"


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip-envelopes"])
def test_client_stream(emulator, project, compress):
    build_id, token = _build(emulator, project)
    before = emulator.admin.build(build_id).last_health
    emulator.clock.advance(10)
    wire = Wire(emulator.url, token)
    try:
        message = buildkit_pb2.ReportHealthRequest(build_id=build_id, platform=buildkit_pb2.PLATFORM_AMD64)
        headers = {"connect-content-encoding": "gzip"} if compress else None
        reply = wire.stream(
            REPORT_HEALTH, [message.SerializeToString()] * 3, headers=headers, compress=compress
        )
    finally:
        wire.close()
    assert reply.status == 200
    assert reply.messages == [b""]  # ReportHealthResponse is empty
    assert reply.end == {}
    assert emulator.admin.build(build_id).last_health > before


def test_compressed_envelope_without_announced_encoding_is_refused(emulator, project):
    build_id, token = _build(emulator, project)
    wire = Wire(emulator.url, token)
    try:
        message = buildkit_pb2.ReportHealthRequest(build_id=build_id).SerializeToString()
        reply = wire.stream(REPORT_HEALTH, [message], compress=True)
    finally:
        wire.close()
    assert reply.end["error"]["code"] == "invalid_argument"


def test_deadline_ends_a_stream_with_deadline_exceeded():
    with run_emulator(pending=5, pending_interval=1.0) as emu:
        created = emu.admin.create_project("slow")
        build_id, token = emu.admin.create_build(created.project_id)
        wire = Wire(emu.url, token)
        try:
            request = buildkit_pb2.GetEndpointRequest(build_id=build_id)
            reply = wire.stream(
                GET_ENDPOINT, [request.SerializeToString()], headers={"connect-timeout-ms": "300"}
            )
        finally:
            wire.close()
    assert reply.status == 200
    assert len(reply.messages) == 1  # one pending, then the deadline
    assert reply.end["error"]["code"] == "deadline_exceeded"


@pytest.mark.parametrize("codec", ["proto", "json"])
@pytest.mark.parametrize("http_version", ["1.1", "h2c"])
def test_connect_transport_talks_to_the_emulator(emulator, project, codec, http_version):
    """The provider's own transport, every call shape, both codecs, both HTTP versions."""
    rpc = Rpc(emulator.url, emulator.token, codec=codec, http_version=http_version)
    try:
        got = rpc(
            "depot.core.v1.ProjectService/GetProject",
            project_pb2.GetProjectRequest(project_id=project.project_id),
        )
        assert got.project.name == "app"
        build_id, token = _build(emulator, project)
        replies = rpc.server_stream(
            "depot.buildkit.v1.BuildKitService/GetEndpoint",
            buildkit_pb2.GetEndpointRequest(build_id=build_id),
            token=token,
        )
        assert [r.WhichOneof("connection") for r in replies] == ["pending", "active"]
        health = buildkit_pb2.ReportHealthRequest(build_id=build_id)
        rpc.client_stream("depot.buildkit.v1.BuildKitService/ReportHealth", [health, health], token=token)
        with pytest.raises(ConnectError) as info:
            rpc("depot.core.v1.ProjectService/GetProject", project_pb2.GetProjectRequest(project_id="nope"))
        assert info.value.code is Code.NOT_FOUND
    finally:
        rpc.close()
    assert {e["token_kind"] for e in emulator.admin.audit()} == {"org", "build"}
