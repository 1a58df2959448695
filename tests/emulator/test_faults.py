"""Fault injection: rules, how they fire, and what a client sees for each action."""

from __future__ import annotations

import httpx
import pytest
from emulator_support import Wire
from google.protobuf.message import DecodeError

from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot._proto.depot.core.v1 import project_pb2
from airflow_provider_depot.connect import Code, ConnectError
from airflow_provider_depot.connect._errors import parse_error_body
from airflow_provider_depot.emulator import FaultRule
from airflow_provider_depot.emulator.connect_server import FaultPlan

GET_PROJECT = "/depot.core.v1.ProjectService/GetProject"
CREATE_PROJECT = "/depot.core.v1.ProjectService/CreateProject"
GET_ENDPOINT = "/depot.buildkit.v1.BuildKitService/GetEndpoint"
# A dropped connection reaches the client as an EOF before any reply byte ("Server disconnected
# without sending a response") or, when the client's own bytes were still unread, as a reset.
DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)


def _get(wire, project):
    return wire.post(
        GET_PROJECT, project_pb2.GetProjectRequest(project_id=project.project_id).SerializeToString()
    )


def test_error_rule_with_retry_after(emulator, wire, project):
    emulator.admin.add_faults(
        [
            {
                "method": "*GetProject",
                "action": "error",
                "code": "resource_exhausted",
                "message": "slow down",
                "retry_after": 2,
            }
        ]
    )
    reply = _get(wire, project)
    assert reply.status_code == 429
    assert reply.headers["retry-after"] == "2"
    assert reply.json() == {"code": "resource_exhausted", "message": "slow down"}


def test_raw_http_rule_has_a_non_connect_body(emulator, wire, project):
    emulator.admin.add_faults([{"method": "depot.core.v1.ProjectService/*", "action": "http", "status": 502}])
    reply = _get(wire, project)
    assert reply.status_code == 502
    assert reply.headers["content-type"].startswith("text/html")
    assert parse_error_body(reply.content, 502).code is Code.UNAVAILABLE  # how clients classify it


def test_every_nth_call(emulator, wire, project):
    emulator.admin.add_faults([{"method": "*GetProject", "action": "error", "every": 3}])
    statuses = [_get(wire, project).status_code for _ in range(7)]
    assert statuses == [200, 200, 503, 200, 200, 503, 200]
    (rule,) = emulator.admin.faults()
    assert (rule["matched"], rule["fired"]) == (7, 2)


def test_probability_is_seeded_and_times_caps_it(emulator, project):
    def pattern(seed):
        plan = FaultPlan([FaultRule(action="error", probability=0.5, seed=seed)])
        return [plan.decide("a.B/C", "B/C") is not None for _ in range(40)]

    assert pattern(1) == pattern(1)
    assert pattern(1) != pattern(2)
    assert 5 < sum(pattern(1)) < 35
    capped = FaultPlan([FaultRule(action="error", times=2, skip_first=1)])
    assert [capped.decide("a.B/C", "B/C") is not None for _ in range(5)] == [False, True, True, False, False]


def test_rules_match_by_glob_on_full_or_short_name(emulator, wire, project):
    emulator.admin.add_faults([{"method": "OrganizationService/*", "action": "error", "code": "internal"}])
    assert _get(wire, project).status_code == 200
    assert wire.post("/depot.core.v1.OrganizationService/ListOrganizations", b"").status_code == 500


def test_delay_rule_only_delays(emulator, wire, project):
    emulator.admin.add_faults([{"method": "*GetProject", "action": "delay", "delay_ms": 100}])
    reply = _get(wire, project)
    assert reply.status_code == 200
    assert emulator.admin.audit()[-1]["duration_ms"] >= 100


def test_drop_before_does_not_run_the_call(emulator, wire):
    emulator.admin.add_faults([{"method": "*CreateProject", "action": "drop_before", "times": 1}])
    body = project_pb2.CreateProjectRequest(name="dropped", region_id="us-east-1").SerializeToString()
    with pytest.raises(DROPPED):
        wire.post(CREATE_PROJECT, body)
    assert emulator.admin.projects() == []
    assert wire.post(CREATE_PROJECT, body).status_code == 200  # the rule fired once
    assert [e["code"] for e in emulator.admin.audit()] == ["dropped", "ok"]


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "h2c"])
def test_drop_after_runs_the_call_but_never_answers(emulator, http2):
    emulator.admin.add_faults([{"method": "*CreateProject", "action": "drop_after", "times": 1}])
    wire = Wire(emulator.url, emulator.token, http2=http2)
    try:
        body = project_pb2.CreateProjectRequest(name="ambiguous", region_id="us-east-1").SerializeToString()
        with pytest.raises(DROPPED):
            wire.post(CREATE_PROJECT, body)
    finally:
        wire.close()
    assert [p.name for p in emulator.admin.projects()] == ["ambiguous"]  # the effect happened


def test_truncated_unary_reply_does_not_decode(emulator, wire, project):
    emulator.admin.add_faults([{"method": "*GetProject", "action": "truncate"}])
    reply = _get(wire, project)
    assert reply.status_code == 200 and reply.content
    with pytest.raises(DecodeError):
        project_pb2.GetProjectResponse.FromString(reply.content)


def _endpoint_stream(emulator, project, **extra):
    build_id, token = emulator.admin.create_build(project.project_id)
    wire = Wire(emulator.url, token)
    try:
        request = buildkit_pb2.GetEndpointRequest(build_id=build_id).SerializeToString()
        return wire.stream(GET_ENDPOINT, [request], **extra)
    finally:
        wire.close()


def test_truncated_stream(emulator, project):
    emulator.admin.add_faults([{"method": "*GetEndpoint", "action": "truncate", "keep_messages": 1}])
    reply = _endpoint_stream(emulator, project)
    assert len(reply.messages) == 1  # the pending reply came whole
    assert reply.end is None and reply.leftover > 0  # then half an envelope, and the body ended


def test_missing_end_of_stream(emulator, project):
    emulator.admin.add_faults([{"method": "*GetEndpoint", "action": "no_end_stream"}])
    reply = _endpoint_stream(emulator, project)
    assert len(reply.messages) == 2 and reply.end is None and reply.leftover == 0


def test_stream_error_rule_arrives_in_the_end_of_stream(emulator, project):
    emulator.admin.add_faults([{"method": "*GetEndpoint", "action": "error", "code": "unavailable"}])
    reply = _endpoint_stream(emulator, project)
    assert reply.status == 200 and reply.messages == []
    assert reply.end == {"error": {"code": "unavailable", "message": "injected fault"}}


def test_connect_transport_sees_faults_as_connect_errors(emulator, rpc, project):
    emulator.admin.add_faults([{"method": "*GetProject", "action": "http", "status": 503}])
    with pytest.raises(ConnectError) as info:
        rpc(
            "depot.core.v1.ProjectService/GetProject",
            project_pb2.GetProjectRequest(project_id=project.project_id),
        )
    assert info.value.code is Code.UNAVAILABLE


def test_admin_http_endpoint_manages_rules(emulator, wire, project):
    with httpx.Client(base_url=emulator.url) as admin:
        reply = admin.post(
            "/_emulator/faults", json={"rules": [{"method": "*GetProject", "action": "error"}]}
        )
        (rule_id,) = reply.json()["ids"]
        assert _get(wire, project).status_code == 503
        rules = admin.get("/_emulator/faults").json()["rules"]
        assert [(r["id"], r["fired"]) for r in rules] == [(rule_id, 1)]
        assert admin.delete(f"/_emulator/faults/{rule_id}").status_code == 200
        assert _get(wire, project).status_code == 200
        bad = admin.post("/_emulator/faults", json={"action": "explode"})
        assert bad.status_code == 400 and "action" in bad.json()["error"]
        audit = admin.get("/_emulator/audit").json()["calls"]
        assert [(c["code"], c["fault"]) for c in audit] == [("unavailable", rule_id), ("ok", None)]
        assert admin.get("/_emulator/audit", params={"since": audit[0]["seq"]}).json()["calls"] == audit[1:]


def test_rule_schema_is_validated():
    for bad, word in [
        ({"action": "error", "every": 0}, "every"),
        ({"action": "error", "probability": 2}, "probability"),
        ({"action": "error", "every": 2, "probability": 0.5}, "exclusive"),
        ({"action": "error", "code": "nope"}, "code"),
        ({"action": "http", "status": 700}, "status"),
        ({"action": "error", "colour": "red"}, "colour"),
        ({"method": "*"}, "action"),
    ]:
        with pytest.raises(ValueError, match=word):
            FaultRule.from_dict(bad)
