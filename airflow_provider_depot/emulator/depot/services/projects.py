"""depot.core.v1.ProjectService: projects, their trust policies and their tokens (org tokens only)."""

from __future__ import annotations

import math

from google.protobuf.message import Message

from airflow_provider_depot._proto.depot.core.v1 import project_pb2 as pb
from airflow_provider_depot.connect._codes import Code
from airflow_provider_depot.connect._errors import ConnectError

from ...connect_server import ServerCall
from .._auth import check_project, require_org_token
from .._model import DEFAULT_KEEP_DAYS, DEFAULT_KEEP_GB, Project, ProjectToken
from .._state import TRUST_PROVIDERS, DepotState, ProjectSettings, check_region
from ._common import optional_str, paged, paging_fields, project_seq, required, timestamp

_GIB = 1 << 30
DEFAULT_HARDWARE = pb.HARDWARE_16X32


def project_message(project: Project) -> pb.Project:
    return pb.Project(
        project_id=project.project_id,
        organization_id=project.org_id,
        name=project.name,
        region_id=project.region_id,
        created_at=timestamp(project.created_at),
        cache_policy=pb.CachePolicy(
            keep_gb=project.keep_gb, keep_days=project.keep_days, keep_bytes=project.keep_gb * _GIB
        ),
        hardware=project.hardware,  # type: ignore[arg-type]
    )


def _keep_gb(policy: pb.CachePolicy) -> int:
    """``keep_gb``, or the deprecated ``keep_bytes`` (what the CLI sends) rounded up to GB."""
    if policy.keep_gb:
        return policy.keep_gb
    if policy.HasField("keep_bytes"):
        return math.ceil(policy.keep_bytes / _GIB)
    return DEFAULT_KEEP_GB


class ProjectService:
    def __init__(self, state: DepotState) -> None:
        self.state = state

    def _project(self, call: ServerCall, project_id: str) -> Project:
        caller = require_org_token(call.context)
        required(project_id, "project_id")
        return check_project(caller, self.state.project(project_id), project_id)

    def ListProjects(self, call: ServerCall, request: pb.ListProjectsRequest) -> pb.ListProjectsResponse:
        caller = require_org_token(call.context)
        region = optional_str(request, "region_id")
        if region:
            check_region(region)
        projects = self.state.org_projects(caller.org_id, region or None)
        if not request.HasField("page_size") and not request.page_token:
            return pb.ListProjectsResponse(projects=[project_message(p) for p in projects])
        chunk, token = paged(
            self.state,
            f"projects:{caller.org_id}:{region or ''}",
            projects,
            project_seq,
            *paging_fields(request),
        )
        response = pb.ListProjectsResponse(projects=[project_message(p) for p in chunk])
        if token:
            response.next_page_token = token
        return response

    def GetProject(self, call: ServerCall, request: pb.GetProjectRequest) -> pb.GetProjectResponse:
        return pb.GetProjectResponse(project=project_message(self._project(call, request.project_id)))

    def CreateProject(self, call: ServerCall, request: pb.CreateProjectRequest) -> pb.CreateProjectResponse:
        caller = require_org_token(call.context)
        org_id = optional_str(request, "organization_id") or caller.org_id
        if org_id != caller.org_id:
            raise ConnectError(Code.PERMISSION_DENIED, "organization_id is not the token's organization")
        policy = request.cache_policy if request.HasField("cache_policy") else None
        project = self.state.create_project(
            org_id,
            request.name,
            region_id=request.region_id,
            keep_gb=_keep_gb(policy) if policy else DEFAULT_KEEP_GB,
            # A policy that is sent is taken as is: keep_days 0 means no age limit (the CLI's
            # --cache-policy-keep-days 0); only a missing policy gets the defaults.
            keep_days=policy.keep_days if policy else DEFAULT_KEEP_DAYS,
            hardware=request.hardware if request.HasField("hardware") else DEFAULT_HARDWARE,
        )
        return pb.CreateProjectResponse(project=project_message(project))

    def UpdateProject(self, call: ServerCall, request: pb.UpdateProjectRequest) -> pb.UpdateProjectResponse:
        project = self._project(call, request.project_id)
        policy = request.cache_policy if request.HasField("cache_policy") else None
        settings = ProjectSettings(
            name=optional_str(request, "name"),
            region_id=optional_str(request, "region_id"),
            keep_gb=_keep_gb(policy) if policy else None,
            keep_days=(policy.keep_days or project.keep_days) if policy else None,
            hardware=request.hardware if request.HasField("hardware") else None,
        )
        return pb.UpdateProjectResponse(project=project_message(self.state.update_project(project, settings)))

    def DeleteProject(self, call: ServerCall, request: pb.DeleteProjectRequest) -> pb.DeleteProjectResponse:
        self.state.delete_project(self._project(call, request.project_id))
        return pb.DeleteProjectResponse()

    def ResetProject(self, call: ServerCall, request: pb.ResetProjectRequest) -> pb.ResetProjectResponse:
        self.state.reset_project(self._project(call, request.project_id))
        return pb.ResetProjectResponse()

    def ListTrustPolicies(
        self, call: ServerCall, request: pb.ListTrustPoliciesRequest
    ) -> pb.ListTrustPoliciesResponse:
        project = self._project(call, request.project_id)
        policies = []
        for policy in self.state.project_trust_policies(project.project_id):
            message = pb.TrustPolicy(trust_policy_id=policy.trust_policy_id)
            getattr(message, policy.provider).CopyFrom(_provider_message(policy.provider, policy.fields))
            policies.append(message)
        return pb.ListTrustPoliciesResponse(trust_policies=policies)

    def AddTrustPolicy(
        self, call: ServerCall, request: pb.AddTrustPolicyRequest
    ) -> pb.AddTrustPolicyResponse:
        project = self._project(call, request.project_id)
        provider = request.WhichOneof("provider")
        if provider is None:
            raise ConnectError(Code.INVALID_ARGUMENT, "one of github, circleci or buildkite is required")
        source = getattr(request, provider)
        fields = {name: getattr(source, name) for name in TRUST_PROVIDERS[provider]}
        policy = self.state.add_trust_policy(project, provider, fields)
        message = pb.TrustPolicy(trust_policy_id=policy.trust_policy_id)
        getattr(message, provider).CopyFrom(source)
        return pb.AddTrustPolicyResponse(trust_policy=message)

    def RemoveTrustPolicy(
        self, call: ServerCall, request: pb.RemoveTrustPolicyRequest
    ) -> pb.RemoveTrustPolicyResponse:
        project = self._project(call, request.project_id)
        self.state.remove_trust_policy(project, required(request.trust_policy_id, "trust_policy_id"))
        return pb.RemoveTrustPolicyResponse()

    def ListTokens(self, call: ServerCall, request: pb.ListTokensRequest) -> pb.ListTokensResponse:
        project = self._project(call, request.project_id)
        return pb.ListTokensResponse(
            tokens=[
                pb.ListTokensResponse.Token(token_id=t.token_id, description=t.description)
                for t in self.state.project_tokens(project.project_id)
            ]
        )

    def CreateToken(self, call: ServerCall, request: pb.CreateTokenRequest) -> pb.CreateTokenResponse:
        project = self._project(call, request.project_id)
        token, secret = self.state.create_token(project, request.description)
        return pb.CreateTokenResponse(token_id=token.token_id, secret=secret)

    def UpdateToken(self, call: ServerCall, request: pb.UpdateTokenRequest) -> pb.UpdateTokenResponse:
        self.state.update_token(self._token(call, request.token_id), request.description)
        return pb.UpdateTokenResponse()

    def DeleteToken(self, call: ServerCall, request: pb.DeleteTokenRequest) -> pb.DeleteTokenResponse:
        self.state.delete_token(self._token(call, request.token_id))
        return pb.DeleteTokenResponse()

    def _token(self, call: ServerCall, token_id: str) -> ProjectToken:
        caller = require_org_token(call.context)
        required(token_id, "token_id")
        token = self.state.token(token_id)
        project = self.state.project(token.project_id) if token else None
        if token is None or project is None or project.org_id != caller.org_id:
            raise ConnectError(Code.NOT_FOUND, f"token {token_id} not found")
        return token


_PROVIDER_MESSAGES: dict[str, type[Message]] = {
    "github": pb.TrustPolicy.GitHub,
    "circleci": pb.TrustPolicy.CircleCI,
    "buildkite": pb.TrustPolicy.Buildkite,
}


def _provider_message(provider: str, fields: dict[str, str]) -> Message:
    return _PROVIDER_MESSAGES[provider](**fields)
