"""``client.projects``: depot.core.v1.ProjectService."""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf import json_format
from google.protobuf.message import Message

from airflow_provider_depot._proto.depot.core.v1 import project_pb2 as pb

from ._operations import Mode, ServiceGroup, Transport, unary
from ._pagination import paged
from ._project_settings import CachePolicyLike, HardwareLike, to_cache_policy, to_hardware, to_region
from ._validation import optional_id, require_id, require_text, valid_page_size, valid_page_token

_SERVICE = pb.DESCRIPTOR.services_by_name["ProjectService"]

GitHubLike = pb.TrustPolicy.GitHub | Mapping[str, str]
CircleCILike = pb.TrustPolicy.CircleCI | Mapping[str, str]
BuildkiteLike = pb.TrustPolicy.Buildkite | Mapping[str, str]


class ProjectsAPI(ServiceGroup[Mode]):
    """Projects, their trust policies and their project tokens."""

    def __init__(self, transport: Transport, *, org_id: str | None = None) -> None:
        super().__init__(transport)
        self._org_id = org_id

    @unary(_SERVICE, pb.ListProjectsResponse)
    def list_projects(
        self, *, region_id: str | None = None, page_size: int | None = None, page_token: str | None = None
    ) -> pb.ListProjectsRequest:
        """One page of the organization's projects (optionally of one region)."""
        return pb.ListProjectsRequest(
            region_id=None if region_id is None else to_region(region_id),
            page_size=valid_page_size(page_size),
            page_token=valid_page_token(page_token),
        )

    iter_projects = paged(list_projects, lambda response: response.projects)

    @unary(_SERVICE, pb.GetProjectResponse)
    def get_project(self, *, project_id: str) -> pb.GetProjectRequest:
        return pb.GetProjectRequest(project_id=require_id("project_id", project_id))

    @unary(_SERVICE, pb.CreateProjectResponse)
    def create_project(
        self,
        *,
        name: str,
        region_id: str,
        organization_id: str | None = None,
        cache_policy: CachePolicyLike | None = None,
        hardware: HardwareLike | None = None,
    ) -> pb.CreateProjectRequest:
        """Create a project; ``organization_id`` defaults to the client's ``org_id``, then to the
        token's organization (the server's default). Not retried on ambiguous failures."""
        return pb.CreateProjectRequest(
            name=require_text("name", name),
            region_id=to_region(region_id),
            organization_id=optional_id(
                "organization_id", self._org_id if organization_id is None else organization_id
            ),
            cache_policy=None if cache_policy is None else to_cache_policy(cache_policy),
            hardware=None if hardware is None else to_hardware(hardware),
        )

    @unary(_SERVICE, pb.UpdateProjectResponse)
    def update_project(
        self,
        *,
        project_id: str,
        name: str | None = None,
        region_id: str | None = None,
        cache_policy: CachePolicyLike | None = None,
        hardware: HardwareLike | None = None,
    ) -> pb.UpdateProjectRequest:
        """Change the given settings; parameters left at None are not sent (unchanged)."""
        return pb.UpdateProjectRequest(
            project_id=require_id("project_id", project_id),
            name=None if name is None else require_text("name", name),
            region_id=None if region_id is None else to_region(region_id),
            cache_policy=None if cache_policy is None else to_cache_policy(cache_policy),
            hardware=None if hardware is None else to_hardware(hardware),
        )

    @unary(_SERVICE, pb.DeleteProjectResponse)
    def delete_project(self, *, project_id: str) -> pb.DeleteProjectRequest:
        return pb.DeleteProjectRequest(project_id=require_id("project_id", project_id))

    @unary(_SERVICE, pb.ResetProjectResponse)
    def reset_project(self, *, project_id: str) -> pb.ResetProjectRequest:
        """Reset the project's build cache."""
        return pb.ResetProjectRequest(project_id=require_id("project_id", project_id))

    @unary(_SERVICE, pb.ListTrustPoliciesResponse)
    def list_trust_policies(self, *, project_id: str) -> pb.ListTrustPoliciesRequest:
        return pb.ListTrustPoliciesRequest(project_id=require_id("project_id", project_id))

    @unary(_SERVICE, pb.AddTrustPolicyResponse)
    def add_trust_policy(
        self,
        *,
        project_id: str,
        github: GitHubLike | None = None,
        circleci: CircleCILike | None = None,
        buildkite: BuildkiteLike | None = None,
    ) -> pb.AddTrustPolicyRequest:
        """Trust one OIDC provider: pass exactly one of ``github`` ({repository_owner, repository}),
        ``circleci`` ({organization_uuid, project_uuid}) or ``buildkite``
        ({organization_slug, pipeline_slug}), as a mapping or the TrustPolicy message."""
        providers = {"github": github, "circleci": circleci, "buildkite": buildkite}
        given = [name for name, value in providers.items() if value is not None]
        if len(given) != 1:
            raise ValueError(f"pass exactly one of github, circleci or buildkite, got {given or 'none'}")
        request = pb.AddTrustPolicyRequest(project_id=require_id("project_id", project_id))
        _fill_provider(given[0], getattr(request, given[0]), providers[given[0]])
        return request

    @unary(_SERVICE, pb.RemoveTrustPolicyResponse)
    def remove_trust_policy(self, *, project_id: str, trust_policy_id: str) -> pb.RemoveTrustPolicyRequest:
        return pb.RemoveTrustPolicyRequest(
            project_id=require_id("project_id", project_id),
            trust_policy_id=require_id("trust_policy_id", trust_policy_id),
        )

    @unary(_SERVICE, pb.ListTokensResponse)
    def list_tokens(self, *, project_id: str) -> pb.ListTokensRequest:
        return pb.ListTokensRequest(project_id=require_id("project_id", project_id))

    @unary(_SERVICE, pb.CreateTokenResponse)
    def create_token(self, *, project_id: str, description: str) -> pb.CreateTokenRequest:
        """Create a project token. The response's ``secret`` is a credential: never log it (or the
        response's repr). Not retried on ambiguous failures."""
        return pb.CreateTokenRequest(
            project_id=require_id("project_id", project_id),
            description=require_text("description", description),
        )

    @unary(_SERVICE, pb.UpdateTokenResponse)
    def update_token(self, *, token_id: str, description: str) -> pb.UpdateTokenRequest:
        return pb.UpdateTokenRequest(
            token_id=require_id("token_id", token_id), description=require_text("description", description)
        )

    @unary(_SERVICE, pb.DeleteTokenResponse)
    def delete_token(self, *, token_id: str) -> pb.DeleteTokenRequest:
        return pb.DeleteTokenRequest(token_id=require_id("token_id", token_id))


def _fill_provider(name: str, target: Message, value: object) -> None:
    """Copy a trust-policy provider (message or mapping) into the request's oneof member."""
    if isinstance(value, type(target)):
        target.CopyFrom(value)
    elif isinstance(value, Mapping):
        try:
            json_format.ParseDict(dict(value), target)
        except json_format.ParseError as exc:
            raise ValueError(f"{name}: {exc}") from exc
    else:
        raise TypeError(f"{name} must be a mapping or a {target.DESCRIPTOR.name}, got {type(value).__name__}")
    for field in target.DESCRIPTOR.fields:
        require_id(f"{name}[{field.name!r}]", getattr(target, field.name))
