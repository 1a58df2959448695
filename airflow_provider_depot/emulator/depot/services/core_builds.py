"""depot.core.v1.BuildService: a project's builds, their status and timings, sharing.

Org tokens, and project tokens for their own project's builds.
"""

from __future__ import annotations

from airflow_provider_depot._proto.depot.core.v1 import build_pb2 as pb
from airflow_provider_depot.connect._codes import Code
from airflow_provider_depot.connect._errors import ConnectError

from ...connect_server import ServerCall
from .._model import Build, BuildStatus
from .._state import DepotState
from ._common import callers_build, paging_fields, project_builds_page, timestamp

STATUS = {
    BuildStatus.RUNNING: pb.Build.STATUS_RUNNING,
    BuildStatus.FAILED: pb.Build.STATUS_FAILED,
    BuildStatus.SUCCESS: pb.Build.STATUS_SUCCESS,
    BuildStatus.ERROR: pb.Build.STATUS_ERROR,
    BuildStatus.CANCELED: pb.Build.STATUS_CANCELED,
}


def build_message(build: Build) -> pb.Build:
    message = pb.Build(
        build_id=build.build_id, status=STATUS[build.status], created_at=timestamp(build.created_at)
    )
    if build.started_at is not None:
        message.started_at.CopyFrom(timestamp(build.started_at))
    if build.finished_at is not None:
        message.finished_at.CopyFrom(timestamp(build.finished_at))
        message.build_duration_seconds = build.duration_seconds or 0
        message.saved_duration_seconds = round(build.saved_seconds)
    if build.steps:
        message.cached_steps = build.cached_steps
        message.total_steps = len(build.steps)
    return message


class CoreBuildService:
    def __init__(self, state: DepotState) -> None:
        self.state = state

    def ShareBuild(self, call: ServerCall, request: pb.ShareBuildRequest) -> pb.ShareBuildResponse:
        build = callers_build(self.state, call, request.build_id, build_token_ok=False)
        with self.state.lock:
            if build.share_id is None:
                build.share_id = self.state.ids.share_id()
                self.state.changed()
            return pb.ShareBuildResponse(share_url=f"https://depot.dev/shared/{build.share_id}")

    def StopSharingBuild(
        self, call: ServerCall, request: pb.StopSharingBuildRequest
    ) -> pb.StopSharingBuildResponse:
        build = callers_build(self.state, call, request.build_id, build_token_ok=False)
        with self.state.lock:
            if build.share_id is None:
                raise ConnectError(Code.FAILED_PRECONDITION, f"build {build.build_id} is not shared")
            build.share_id = None
            self.state.changed()
        return pb.StopSharingBuildResponse()

    def ListBuilds(self, call: ServerCall, request: pb.ListBuildsRequest) -> pb.ListBuildsResponse:
        with self.state.lock:
            chunk, token = project_builds_page(
                self.state, call, request.project_id, "builds", *paging_fields(request)
            )
            return pb.ListBuildsResponse(builds=[build_message(b) for b in chunk], next_page_token=token)

    def GetBuild(self, call: ServerCall, request: pb.GetBuildRequest) -> pb.GetBuildResponse:
        build = callers_build(self.state, call, request.build_id, build_token_ok=False)
        with self.state.lock:
            return pb.GetBuildResponse(build=build_message(build))
