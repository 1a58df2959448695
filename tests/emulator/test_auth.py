"""Bearer auth: org, project and build tokens, and what each may reach."""

from __future__ import annotations

import pytest
from emulator_support import Rpc, error_code

from airflow_provider_depot._proto.depot.build.v1 import build_pb2, registry_pb2
from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot._proto.depot.cli.v1 import build_pb2 as cli_pb2
from airflow_provider_depot._proto.depot.core.v1 import project_pb2, usage_pb2
from airflow_provider_depot.connect import Code, ConnectError
from airflow_provider_depot.emulator import run_emulator

LIST_PROJECTS = "depot.core.v1.ProjectService/ListProjects"
LIST_IMAGES = "depot.build.v1.RegistryService/ListImages"
GET_ENDPOINT = "depot.buildkit.v1.BuildKitService/GetEndpoint"


def test_missing_token_is_unauthenticated(emulator, wire):
    reply = wire.post("/" + LIST_PROJECTS, b"", token="")
    assert reply.status_code == 401
    assert reply.json() == {"code": "unauthenticated", "message": "missing or invalid bearer token"}


def test_wrong_token_is_unauthenticated(rpc):
    assert (
        error_code(rpc, LIST_PROJECTS, project_pb2.ListProjectsRequest(), token="depot_org_wrong")
        is Code.UNAUTHENTICATED
    )


def test_non_bearer_scheme_is_unauthenticated(emulator, wire):
    reply = wire.post("/" + LIST_PROJECTS, b"", headers={"authorization": f"Basic {emulator.token}"})
    assert reply.status_code == 401


def test_org_token_reaches_the_organization(rpc, project):
    projects = rpc(LIST_PROJECTS, project_pb2.ListProjectsRequest()).projects
    assert [p.project_id for p in projects] == [project.project_id]


def test_every_configured_org_token_works():
    with run_emulator(tokens=("first-token", "second-token")) as emu:
        for token in ("first-token", "second-token"):
            client = Rpc(emu.url, token)
            try:
                client(LIST_PROJECTS, project_pb2.ListProjectsRequest())
            finally:
                client.close()
        client = Rpc(emu.url, "third-token")
        try:
            assert (
                error_code(client, LIST_PROJECTS, project_pb2.ListProjectsRequest()) is Code.UNAUTHENTICATED
            )
        finally:
            client.close()


def test_project_token_reaches_only_its_project(emulator, rpc, project):
    other = emulator.admin.create_project("other")
    emulator.admin.add_images(project.project_id, ["v1"])
    created = rpc(
        "depot.core.v1.ProjectService/CreateToken",
        project_pb2.CreateTokenRequest(project_id=project.project_id, description="ci"),
    )
    secret = created.secret
    assert secret.startswith("depot_project_")
    # Its own registry and builds:
    images = rpc(
        LIST_IMAGES, registry_pb2.ListImagesRequest(project_id=project.project_id), token=secret
    ).images
    assert [i.tag for i in images] == ["v1"]
    build = rpc(
        "depot.build.v1.BuildService/CreateBuild",
        build_pb2.CreateBuildRequest(project_id=project.project_id),
        token=secret,
    )
    assert build.build_id
    # Another project's: permission denied.
    assert error_code(
        rpc, LIST_IMAGES, registry_pb2.ListImagesRequest(project_id=other.project_id), token=secret
    ) is (Code.PERMISSION_DENIED)
    # Organization-level calls: permission denied.
    assert (
        error_code(rpc, LIST_PROJECTS, project_pb2.ListProjectsRequest(), token=secret)
        is Code.PERMISSION_DENIED
    )
    usage = usage_pb2.GetUsageRequest()
    usage.start_at.FromSeconds(0)
    usage.end_at.FromSeconds(86400)
    assert (
        error_code(rpc, "depot.core.v1.UsageService/GetUsage", usage, token=secret) is Code.PERMISSION_DENIED
    )


def test_deleted_project_token_is_unauthenticated(rpc, project):
    created = rpc(
        "depot.core.v1.ProjectService/CreateToken",
        project_pb2.CreateTokenRequest(project_id=project.project_id),
    )
    rpc("depot.core.v1.ProjectService/DeleteToken", project_pb2.DeleteTokenRequest(token_id=created.token_id))
    request = registry_pb2.ListImagesRequest(project_id=project.project_id)
    assert error_code(rpc, LIST_IMAGES, request, token=created.secret) is Code.UNAUTHENTICATED


def test_build_token_reaches_only_its_build(emulator, rpc, project):
    mine = rpc(
        "depot.build.v1.BuildService/CreateBuild", build_pb2.CreateBuildRequest(project_id=project.project_id)
    )
    theirs = rpc(
        "depot.build.v1.BuildService/CreateBuild", build_pb2.CreateBuildRequest(project_id=project.project_id)
    )
    replies = rpc.server_stream(
        GET_ENDPOINT, buildkit_pb2.GetEndpointRequest(build_id=mine.build_id), token=mine.build_token
    )
    assert replies[-1].WhichOneof("connection") == "active"
    cli = rpc(
        "depot.cli.v1.BuildService/GetBuild",
        cli_pb2.GetBuildRequest(build_id=mine.build_id),
        token=mine.build_token,
    )
    assert cli.project_id == project.project_id
    with pytest.raises(ConnectError) as info:
        rpc.server_stream(
            GET_ENDPOINT, buildkit_pb2.GetEndpointRequest(build_id=theirs.build_id), token=mine.build_token
        )
    assert info.value.code is Code.PERMISSION_DENIED
    # Not a key to the project's registry or the organization:
    request = registry_pb2.ListImagesRequest(project_id=project.project_id)
    assert error_code(rpc, LIST_IMAGES, request, token=mine.build_token) is Code.PERMISSION_DENIED
    assert (
        error_code(rpc, LIST_PROJECTS, project_pb2.ListProjectsRequest(), token=mine.build_token)
        is Code.PERMISSION_DENIED
    )


def test_org_token_cannot_see_another_organizations_project(emulator, rpc):
    other_org = emulator.admin.state.add_organization("Other")
    foreign = emulator.admin.create_project("theirs", org_id=other_org.org_id)
    request = project_pb2.GetProjectRequest(project_id=foreign.project_id)
    assert error_code(rpc, "depot.core.v1.ProjectService/GetProject", request) is Code.NOT_FOUND
    assert foreign.project_id not in [
        p.project_id for p in rpc(LIST_PROJECTS, project_pb2.ListProjectsRequest()).projects
    ]


def test_audit_log_names_token_kinds_never_tokens(emulator, rpc, project):
    created = rpc(
        "depot.core.v1.ProjectService/CreateToken",
        project_pb2.CreateTokenRequest(project_id=project.project_id),
    )
    build = rpc(
        "depot.build.v1.BuildService/CreateBuild", build_pb2.CreateBuildRequest(project_id=project.project_id)
    )
    rpc(LIST_IMAGES, registry_pb2.ListImagesRequest(project_id=project.project_id), token=created.secret)
    rpc(
        "depot.cli.v1.BuildService/GetBuild",
        cli_pb2.GetBuildRequest(build_id=build.build_id),
        token=build.build_token,
    )
    with pytest.raises(ConnectError):
        rpc(LIST_PROJECTS, project_pb2.ListProjectsRequest(), token="bogus")
    audit = emulator.admin.audit()
    assert [(e["procedure"].rsplit("/", 1)[1], e["token_kind"], e["code"]) for e in audit] == [
        ("CreateToken", "org", "ok"),
        ("CreateBuild", "org", "ok"),
        ("ListImages", "project", "ok"),
        ("GetBuild", "build", "ok"),
        ("ListProjects", "invalid", "unauthenticated"),
    ]
    text = repr(audit) + repr(emulator.admin.snapshot())
    for secret in (emulator.token, created.secret, build.build_token):
        assert secret not in text
