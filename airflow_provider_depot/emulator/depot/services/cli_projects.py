"""depot.cli.v1beta1.ProjectsService: what ``depot projects list`` and ``depot cache reset`` call."""

from __future__ import annotations

from airflow_provider_depot._proto.depot.cli.v1beta1 import projects_pb2 as pb

from ...connect_server import ServerCall
from .._auth import check_project, require_org_token
from .._state import DepotState
from ._common import required


class CliProjectsService:
    def __init__(self, state: DepotState) -> None:
        self.state = state

    def ListProjects(self, call: ServerCall, request: pb.ListProjectsRequest) -> pb.ListProjectsResponse:
        caller = require_org_token(call.context)
        with self.state.lock:
            org = self.state.organizations[caller.org_id]
            return pb.ListProjectsResponse(
                projects=[
                    pb.ListProjectsResponse.Project(
                        id=p.project_id, name=p.name, org_id=org.org_id, org_name=org.name
                    )
                    for p in self.state.org_projects(caller.org_id)
                ]
            )

    def ResetProjectCache(
        self, call: ServerCall, request: pb.ResetProjectCacheRequest
    ) -> pb.ResetProjectCacheResponse:
        caller = require_org_token(call.context)
        required(request.project_id, "project_id")
        project = check_project(caller, self.state.project(request.project_id), request.project_id)
        self.state.reset_project(project)
        with self.state.lock:
            org_name = self.state.organizations[project.org_id].name
        return pb.ResetProjectCacheResponse(name=project.name, org_name=org_name)
