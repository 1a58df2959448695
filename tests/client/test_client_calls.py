"""Unary calls: what reaches the server, and what comes back, for both clients."""

from __future__ import annotations

from typing import Any

import pytest
from fake_depot import ORG_TOKEN, FakeDepot, Front

from airflow_provider_depot._proto.depot.core.v1 import org_pb2, project_pb2
from airflow_provider_depot.client import AsyncDepotClient, DepotClient
from airflow_provider_depot.connect import Code, ConnectError


def sent(depot: FakeDepot, index: int = 0) -> Any:
    return depot.requests[index].messages[0]


async def test_create_project_sends_friendly_settings_as_messages(front: Front, depot: FakeDepot) -> None:
    project = project_pb2.Project(project_id="p1", name="web")
    depot.replies["/depot.core.v1.ProjectService/CreateProject"] = project_pb2.CreateProjectResponse(
        project=project
    )
    reply = await front.call(
        front.client.projects.create_project(
            name="web",
            region_id="eu-central-1",
            cache_policy={"keep_gb": 50, "keep_days": 14},
            hardware="8x16",
        )
    )
    assert isinstance(reply, project_pb2.CreateProjectResponse)
    assert reply.project == project
    request = sent(depot)
    assert (request.name, request.region_id) == ("web", "eu-central-1")
    assert request.cache_policy == project_pb2.CachePolicy(keep_gb=50, keep_days=14)
    assert not request.cache_policy.HasField("keep_bytes")
    assert request.hardware == project_pb2.HARDWARE_8X16
    assert not request.HasField("organization_id")  # the server defaults it to the token's organization
    assert depot.requests[0].authorization == f"Bearer {ORG_TOKEN}"


async def test_optional_fields_left_out_are_not_sent(front: Front, depot: FakeDepot) -> None:
    await front.call(front.client.projects.create_project(name="web", region_id="us-east-1"))
    await front.call(front.client.projects.update_project(project_id="p1", name="renamed"))
    create, update = sent(depot, 0), sent(depot, 1)
    assert not create.HasField("cache_policy") and not create.HasField("hardware")
    assert update.HasField("name") and update.name == "renamed"
    assert not update.HasField("region_id") and not update.HasField("cache_policy")


@pytest.mark.parametrize("cls", [DepotClient, AsyncDepotClient])
async def test_client_org_id_is_the_default_organization(cls: Any, depot: FakeDepot, server_url: str) -> None:
    client = cls(token=ORG_TOKEN, base_url=server_url, org_id="org-7")
    front = Front(client, cls is AsyncDepotClient)
    await front.call(front.client.projects.create_project(name="a", region_id="us-east-1"))
    await front.call(
        front.client.projects.create_project(name="b", region_id="us-east-1", organization_id="org-8")
    )
    assert [sent(depot, i).organization_id for i in range(2)] == ["org-7", "org-8"]
    await front.call(client.aclose() if front.is_async else client.close())


async def test_finish_build_success_and_error(front: Front, depot: FakeDepot) -> None:
    await front.call(front.client.builds.finish_build(build_id="b1"))
    await front.call(front.client.builds.finish_build(build_id="b1", error="exit code 2"))
    assert sent(depot, 0).WhichOneof("result") == "success"
    assert sent(depot, 1).WhichOneof("result") == "error"
    assert sent(depot, 1).error.error == "exit code 2"


async def test_trust_policy_from_mapping_or_message(front: Front, depot: FakeDepot) -> None:
    github = {"repository_owner": "acme", "repository": "web"}
    await front.call(front.client.projects.add_trust_policy(project_id="p1", github=github))
    buildkite = project_pb2.TrustPolicy.Buildkite(organization_slug="acme", pipeline_slug="deploy")
    await front.call(front.client.projects.add_trust_policy(project_id="p1", buildkite=buildkite))
    assert sent(depot, 0).WhichOneof("provider") == "github"
    assert sent(depot, 0).github == project_pb2.TrustPolicy.GitHub(**github)
    assert sent(depot, 1).buildkite == buildkite


async def test_delete_image_sends_every_tag(front: Front, depot: FakeDepot) -> None:
    await front.call(front.client.registry.delete_image(project_id="p1", image_tags=("v1", "v2")))
    assert list(sent(depot).image_tags) == ["v1", "v2"]
    assert depot.paths() == ["/depot.build.v1.RegistryService/DeleteImage"]


async def test_replies_come_back_as_generated_messages(front: Front, depot: FakeDepot) -> None:
    orgs = org_pb2.ListOrganizationsResponse(organizations=[{"org_id": "o1", "name": "Acme"}])
    depot.replies["/depot.core.v1.OrganizationService/ListOrganizations"] = orgs
    assert await front.call(front.client.organizations.list_organizations()) == orgs


async def test_server_errors_raise_connect_error_naming_the_rpc(front: Front, depot: FakeDepot) -> None:
    depot.replies["/depot.core.v1.ProjectService/GetProject"] = ConnectError(Code.NOT_FOUND, "no project p9")
    with pytest.raises(ConnectError) as raised:
        await front.call(front.client.projects.get_project(project_id="p9"))
    assert raised.value.code is Code.NOT_FOUND
    assert raised.value.rpc == "ProjectService/GetProject"
    assert ORG_TOKEN not in str(raised.value)


@pytest.mark.parametrize(("codec", "http_version"), [("json", "1.1"), ("proto", "h2c"), ("json", "h2c")])
@pytest.mark.parametrize("cls", [DepotClient, AsyncDepotClient])
async def test_other_codecs_and_http2(
    cls: Any, codec: str, http_version: str, depot: FakeDepot, server_url: str
) -> None:
    client = cls(token=ORG_TOKEN, base_url=server_url, codec=codec, http_version=http_version)
    front = Front(client, cls is AsyncDepotClient)
    token = project_pb2.CreateTokenResponse(token_id="t1", secret="s3cr3t")
    depot.replies["/depot.core.v1.ProjectService/CreateToken"] = token
    assert await front.call(client.projects.create_token(project_id="p1", description="ci")) == token
    assert sent(depot).description == "ci"
    await front.call(client.aclose() if front.is_async else client.close())
