"""core.v1 ProjectService and OrganizationService, cli.v1beta1 ProjectsService."""

from __future__ import annotations

import pytest
from emulator_support import error_code

from airflow_provider_depot._proto.depot.cli.v1beta1 import projects_pb2 as cli_projects_pb2
from airflow_provider_depot._proto.depot.core.v1 import org_pb2, project_pb2
from airflow_provider_depot.connect import Code, ConnectError

SVC = "depot.core.v1.ProjectService/"


def test_create_get_update_delete(emulator, rpc):
    created = rpc(
        SVC + "CreateProject",
        project_pb2.CreateProjectRequest(
            name="api",
            region_id="eu-central-1",
            cache_policy=project_pb2.CachePolicy(keep_gb=20, keep_days=7),
            hardware=project_pb2.HARDWARE_8X16,
        ),
    ).project
    assert len(created.project_id) == 10 and created.project_id.isalnum() and created.project_id.islower()
    assert created.organization_id == emulator.admin.organization.org_id
    assert (created.region_id, created.cache_policy.keep_gb, created.cache_policy.keep_days) == (
        "eu-central-1",
        20,
        7,
    )
    assert created.hardware == project_pb2.HARDWARE_8X16
    assert created.created_at.ToDatetime().year >= 2024
    got = rpc(SVC + "GetProject", project_pb2.GetProjectRequest(project_id=created.project_id)).project
    assert got == created
    updated = rpc(
        SVC + "UpdateProject",
        project_pb2.UpdateProjectRequest(
            project_id=created.project_id,
            name="api2",
            cache_policy=project_pb2.CachePolicy(keep_gb=30),
        ),
    ).project
    assert (
        updated.name,
        updated.region_id,
        updated.cache_policy.keep_gb,
        updated.cache_policy.keep_days,
    ) == ("api2", "eu-central-1", 30, 7)
    rpc(SVC + "DeleteProject", project_pb2.DeleteProjectRequest(project_id=created.project_id))
    assert (
        error_code(rpc, SVC + "GetProject", project_pb2.GetProjectRequest(project_id=created.project_id))
        is Code.NOT_FOUND
    )


def test_create_project_takes_the_clis_keep_bytes(rpc):
    policy = project_pb2.CachePolicy(keep_bytes=50 * (1 << 30), keep_days=14)
    created = rpc(
        SVC + "CreateProject",
        project_pb2.CreateProjectRequest(name="cli", region_id="us-east-1", cache_policy=policy),
    )
    assert created.project.cache_policy.keep_gb == 50


@pytest.mark.parametrize("region", ["us-west-2", "mars-1"])
def test_unknown_region_is_invalid_argument(rpc, region):
    request = project_pb2.CreateProjectRequest(name="x", region_id=region)
    with pytest.raises(ConnectError) as info:
        rpc(SVC + "CreateProject", request)
    assert info.value.code is Code.INVALID_ARGUMENT
    assert "region" in info.value.message
    listing = project_pb2.ListProjectsRequest(region_id=region)
    assert error_code(rpc, SVC + "ListProjects", listing) is Code.INVALID_ARGUMENT


def test_create_project_needs_a_name(rpc):
    request = project_pb2.CreateProjectRequest(name="", region_id="us-east-1")
    assert error_code(rpc, SVC + "CreateProject", request) is Code.INVALID_ARGUMENT


def test_create_project_in_another_organization_is_denied(rpc):
    request = project_pb2.CreateProjectRequest(name="x", region_id="us-east-1", organization_id="someoneelse")
    assert error_code(rpc, SVC + "CreateProject", request) is Code.PERMISSION_DENIED


def test_list_projects_filters_by_region(emulator, rpc):
    emulator.admin.create_project("us")
    eu = emulator.admin.create_project("eu", region_id="eu-central-1")
    got = rpc(SVC + "ListProjects", project_pb2.ListProjectsRequest(region_id="eu-central-1")).projects
    assert [p.project_id for p in got] == [eu.project_id]


def test_trust_policies(rpc, project):
    added = rpc(
        SVC + "AddTrustPolicy",
        project_pb2.AddTrustPolicyRequest(
            project_id=project.project_id,
            github=project_pb2.TrustPolicy.GitHub(repository_owner="acme", repository="api"),
        ),
    ).trust_policy
    assert added.trust_policy_id and added.github.repository == "api"
    rpc(
        SVC + "AddTrustPolicy",
        project_pb2.AddTrustPolicyRequest(
            project_id=project.project_id,
            buildkite=project_pb2.TrustPolicy.Buildkite(organization_slug="acme", pipeline_slug="deploy"),
        ),
    )
    listed = rpc(
        SVC + "ListTrustPolicies", project_pb2.ListTrustPoliciesRequest(project_id=project.project_id)
    )
    assert [p.WhichOneof("provider") for p in listed.trust_policies] == ["github", "buildkite"]
    rpc(
        SVC + "RemoveTrustPolicy",
        project_pb2.RemoveTrustPolicyRequest(
            project_id=project.project_id, trust_policy_id=added.trust_policy_id
        ),
    )
    listed = rpc(
        SVC + "ListTrustPolicies", project_pb2.ListTrustPoliciesRequest(project_id=project.project_id)
    )
    assert [p.WhichOneof("provider") for p in listed.trust_policies] == ["buildkite"]
    remove_again = project_pb2.RemoveTrustPolicyRequest(
        project_id=project.project_id, trust_policy_id=added.trust_policy_id
    )
    assert error_code(rpc, SVC + "RemoveTrustPolicy", remove_again) is Code.NOT_FOUND
    no_provider = project_pb2.AddTrustPolicyRequest(project_id=project.project_id)
    assert error_code(rpc, SVC + "AddTrustPolicy", no_provider) is Code.INVALID_ARGUMENT
    incomplete = project_pb2.AddTrustPolicyRequest(
        project_id=project.project_id, circleci=project_pb2.TrustPolicy.CircleCI(organization_uuid="o")
    )
    assert error_code(rpc, SVC + "AddTrustPolicy", incomplete) is Code.INVALID_ARGUMENT


def test_tokens(rpc, project):
    first = rpc(
        SVC + "CreateToken", project_pb2.CreateTokenRequest(project_id=project.project_id, description="ci")
    )
    second = rpc(
        SVC + "CreateToken", project_pb2.CreateTokenRequest(project_id=project.project_id, description="cd")
    )
    assert first.secret != second.secret and first.token_id != second.token_id
    rpc(SVC + "UpdateToken", project_pb2.UpdateTokenRequest(token_id=first.token_id, description="ci-2"))
    listed = rpc(SVC + "ListTokens", project_pb2.ListTokensRequest(project_id=project.project_id)).tokens
    assert [(t.token_id, t.description) for t in listed] == [
        (first.token_id, "ci-2"),
        (second.token_id, "cd"),
    ]
    rpc(SVC + "DeleteToken", project_pb2.DeleteTokenRequest(token_id=first.token_id))
    listed = rpc(SVC + "ListTokens", project_pb2.ListTokensRequest(project_id=project.project_id)).tokens
    assert [t.token_id for t in listed] == [second.token_id]
    gone = project_pb2.DeleteTokenRequest(token_id=first.token_id)
    assert error_code(rpc, SVC + "DeleteToken", gone) is Code.NOT_FOUND


def test_reset_project_forgets_cached_step_times(emulator, rpc, project):
    emulator.admin.state.step_seconds[(project.project_id, "sha256:x")] = 12.0
    rpc(SVC + "ResetProject", project_pb2.ResetProjectRequest(project_id=project.project_id))
    assert (project.project_id, "sha256:x") not in emulator.admin.state.step_seconds
    assert emulator.admin.project(project.project_id).cache_reset_at is not None


def test_list_organizations(emulator, rpc):
    orgs = rpc(
        "depot.core.v1.OrganizationService/ListOrganizations", org_pb2.ListOrganizationsRequest()
    ).organizations
    assert [(o.org_id, o.name) for o in orgs] == [
        (emulator.admin.organization.org_id, "Emulated organization")
    ]


def test_cli_projects_service(emulator, rpc, project):
    listed = rpc(
        "depot.cli.v1beta1.ProjectsService/ListProjects", cli_projects_pb2.ListProjectsRequest()
    ).projects
    org = emulator.admin.organization
    assert [(p.id, p.name, p.org_id, p.org_name) for p in listed] == [
        (project.project_id, "app", org.org_id, org.name)
    ]
    reset = rpc(
        "depot.cli.v1beta1.ProjectsService/ResetProjectCache",
        cli_projects_pb2.ResetProjectCacheRequest(project_id=project.project_id),
    )
    assert (reset.name, reset.org_name) == ("app", org.name)
    missing = cli_projects_pb2.ResetProjectCacheRequest(project_id="nope")
    assert error_code(rpc, "depot.cli.v1beta1.ProjectsService/ResetProjectCache", missing) is Code.NOT_FOUND
