"""message_to_json: the one conversion of protobuf replies into what operators push to XCom."""

from __future__ import annotations

import datetime as dt
import json

from airflow_provider_depot._proto.depot.cli.v1 import build_pb2 as cli_build_pb2
from airflow_provider_depot._proto.depot.core.v1 import project_pb2
from airflow_provider_depot._proto.moby.buildkit.v1 import status_pb2
from airflow_provider_depot.client import to_timestamp
from airflow_provider_depot.operators._json import message_to_json

CREATED = dt.datetime(2026, 3, 1, 12, 30, 5, 250_000, tzinfo=dt.timezone.utc)


def test_every_field_appears_with_plain_values() -> None:
    project = project_pb2.Project(
        project_id="p1",
        name="api",
        created_at=to_timestamp(CREATED),
        cache_policy=project_pb2.CachePolicy(keep_bytes=2**40, keep_gb=1024, keep_days=7),
        hardware=project_pb2.HARDWARE_4X4,
    )

    assert message_to_json(project) == {
        "project_id": "p1",
        "organization_id": "",
        "name": "api",
        "region_id": "",
        "created_at": "2026-03-01T12:30:05.250000+00:00",
        "cache_policy": {"keep_bytes": 2**40, "keep_days": 7, "keep_gb": 1024},
        "hardware": "HARDWARE_4X4",
    }


def test_unset_fields_with_presence_are_none_and_unknown_enum_numbers_stay_numbers() -> None:
    project = project_pb2.Project(project_id="p1", hardware=99)  # type: ignore[arg-type]

    converted = message_to_json(project)

    assert converted["created_at"] is None
    assert converted["cache_policy"] is None
    assert converted["hardware"] == 99
    assert message_to_json(project_pb2.CachePolicy(keep_gb=1))["keep_bytes"] is None


def test_oneof_members_repeated_messages_maps_and_bytes() -> None:
    policy = project_pb2.TrustPolicy(
        trust_policy_id="t1", github=project_pb2.TrustPolicy.GitHub(repository_owner="o", repository="r")
    )
    listing = project_pb2.ListTrustPoliciesResponse(trust_policies=[policy, policy])
    output = cli_build_pb2.BuildOutput(kind="image", attributes={"name": "registry/api", "push": "true"})
    log = status_pb2.VertexLog(vertex="v", msg=b"\x00step 1\n")

    assert (
        message_to_json(listing)["trust_policies"]
        == [
            {
                "trust_policy_id": "t1",
                "buildkite": None,
                "circleci": None,
                "github": {"repository_owner": "o", "repository": "r"},
            }
        ]
        * 2
    )
    assert message_to_json(output) == {
        "kind": "image",
        "attributes": {"name": "registry/api", "push": "true"},
    }
    assert message_to_json(log)["msg"] == "AHN0ZXAgMQo="  # base64, as in protobuf's JSON mapping
    for message in (listing, output, log):
        assert json.loads(json.dumps(message_to_json(message))) == message_to_json(message)
