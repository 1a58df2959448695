"""depot.build.v1.BuildService: create and finish builds, read their steps and step logs.

CreateBuild takes an org token or the project's own project token. FinishBuild also takes the
build's own build token. Steps are listed in the order BuildKit first reported them; logs in the
order they arrived.
"""

from __future__ import annotations

from airflow_provider_depot._proto.depot.build.v1 import build_pb2 as pb
from airflow_provider_depot.connect._codes import Code
from airflow_provider_depot.connect._errors import ConnectError

from ...connect_server import ServerCall
from .._auth import check_project
from .._builds import create_build, finish_build
from .._leases import EndpointBroker
from .._model import Build, BuildStatus, BuildStep, LogLine
from .._state import DepotState
from ._common import caller, callers_build, paged, paging_fields, required, timestamp

_Step = pb.GetBuildStepsResponse.BuildStep


def _step_message(step: BuildStep, has_logs: bool) -> _Step:
    message = _Step(
        name=step.name,
        digest=step.digest,
        started_at=timestamp(step.started_at),
        cache_state=_Step.CACHE_STATE_CACHED if step.cached else _Step.CACHE_STATE_UNCACHED,
        has_logs=has_logs,
    )
    if step.completed_at is not None:
        message.completed_at.CopyFrom(timestamp(step.completed_at))
    if step.error is not None:
        message.error = step.error
    return message


def _step_seq(step: BuildStep) -> int:
    return step.seq


def _log_seq(line: LogLine) -> int:
    return line.seq


class BuildService:
    def __init__(self, state: DepotState, broker: EndpointBroker) -> None:
        self.state = state
        self.broker = broker

    def _project_build(self, call: ServerCall, project_id: str, build_id: str) -> Build:
        required(project_id, "project_id")
        build = callers_build(self.state, call, build_id, build_token_ok=False)
        if build.project_id != project_id:
            raise ConnectError(Code.NOT_FOUND, f"build {build_id} not found in project {project_id}")
        return build

    def CreateBuild(self, call: ServerCall, request: pb.CreateBuildRequest) -> pb.CreateBuildResponse:
        required(request.project_id, "project_id")
        project = check_project(caller(call), self.state.project(request.project_id), request.project_id)
        build, secret = create_build(self.state, project)
        return pb.CreateBuildResponse(build_id=build.build_id, build_token=secret)

    def FinishBuild(self, call: ServerCall, request: pb.FinishBuildRequest) -> pb.FinishBuildResponse:
        build = callers_build(self.state, call, request.build_id)
        result = request.WhichOneof("result")
        if result is None:
            raise ConnectError(Code.INVALID_ARGUMENT, "result (success or error) is required")
        if result == "success":
            finish_build(self.state, build, BuildStatus.SUCCESS)
        else:
            finish_build(self.state, build, BuildStatus.FAILED, request.error.error or "build failed")
        self.broker.release(build.build_id, None, by="finish")
        return pb.FinishBuildResponse()

    def GetBuildSteps(self, call: ServerCall, request: pb.GetBuildStepsRequest) -> pb.GetBuildStepsResponse:
        build = self._project_build(call, request.project_id, request.build_id)
        with self.state.lock:
            chunk, token = paged(
                self.state, f"steps:{build.build_id}", build.steps, _step_seq, *paging_fields(request)
            )
            with_logs = {line.digest for line in build.logs}
            response = pb.GetBuildStepsResponse(
                build_steps=[_step_message(s, s.digest in with_logs) for s in chunk]
            )
        if token:
            response.next_page_token = token
        return response

    def GetBuildStepLogs(
        self, call: ServerCall, request: pb.GetBuildStepLogsRequest
    ) -> pb.GetBuildStepLogsResponse:
        build = self._project_build(call, request.project_id, request.build_id)
        digest = required(request.build_step_digest, "build_step_digest")
        with self.state.lock:
            if build.step(digest) is None:
                raise ConnectError(Code.NOT_FOUND, f"build {build.build_id} has no step {digest}")
            lines = [line for line in build.logs if line.digest == digest]
            chunk, token = paged(
                self.state, f"logs:{build.build_id}:{digest}", lines, _log_seq, *paging_fields(request)
            )
        response = pb.GetBuildStepLogsResponse(
            logs=[
                pb.GetBuildStepLogsResponse.Log(message=line.message, timestamp=timestamp(line.timestamp))
                for line in chunk
            ]
        )
        if token:
            response.next_page_token = token
        return response
