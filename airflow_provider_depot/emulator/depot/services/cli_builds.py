"""depot.cli.v1.BuildService: the calls ``depot build`` makes (WIRE.md section 5).

CreateBuild takes an org token or the project's token; everything else also the build token.
GetBuildKitConnection answers ``pending {wait_ms}`` the configured number of times, then
``active`` (no certificates when the endpoint is plain TCP: the CLI then dials without TLS).
ReportBuildHealth answers ``cancels_at`` once the build was asked to cancel or has expired, which
makes the CLI stop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from airflow_provider_depot._proto.depot.cli.v1 import build_pb2 as pb
from airflow_provider_depot.connect._codes import Code
from airflow_provider_depot.connect._errors import ConnectError

from ...connect_server import ServerCall
from .._auth import TokenKind, check_project
from .._builds import create_build, finish_build, ingest_status, record_timings
from .._ids import pull_token_secret
from .._leases import EndpointBroker, platform_name
from .._model import BuildOptions, BuildStatus
from .._state import DepotState
from ._common import build_url, caller, callers_build, project_builds_page, timestamp

REGISTRY_HOST = "registry.depot.dev"
STATUS = {
    BuildStatus.RUNNING: pb.BUILD_STATUS_RUNNING,
    BuildStatus.SUCCESS: pb.BUILD_STATUS_FINISHED,
    BuildStatus.FAILED: pb.BUILD_STATUS_FAILED,
    BuildStatus.ERROR: pb.BUILD_STATUS_FAILED,
    BuildStatus.CANCELED: pb.BUILD_STATUS_CANCELED,
}


def _options(message: pb.BuildOptions) -> BuildOptions:
    return BuildOptions(
        command=message.command,
        tags=list(message.tags),
        push=message.push,
        load=message.load,
        save=message.save,
        save_tags=list(message.save_tags),
    )


def _options_message(options: BuildOptions) -> pb.BuildOptions:
    return pb.BuildOptions(
        command=options.command,  # type: ignore[arg-type]
        tags=options.tags,
        push=options.push,
        load=options.load,
        save=options.save,
        save_tags=options.save_tags,
    )


class CliBuildService:
    def __init__(self, state: DepotState, broker: EndpointBroker) -> None:
        self.state = state
        self.broker = broker

    def CreateBuild(self, call: ServerCall, request: pb.CreateBuildRequest) -> pb.CreateBuildResponse:
        principal = caller(call)
        project_id = request.project_id if request.HasField("project_id") else (principal.project_id or "")
        if not project_id:
            raise ConnectError(Code.NOT_FOUND, "project not found: no project_id given")
        project = check_project(principal, self.state.project(project_id), project_id)
        build, secret = create_build(self.state, project, options=[_options(o) for o in request.options])
        return pb.CreateBuildResponse(
            build_id=build.build_id,
            build_token=secret,
            registry=pb.Registry(can_use_local_registry=False, load_using_registry=False),
            build_url=build_url(build),
            project_id=project.project_id,
        )

    def GetBuild(self, call: ServerCall, request: pb.GetBuildRequest) -> pb.GetBuildResponse:
        build = callers_build(self.state, call, request.build_id)
        return pb.GetBuildResponse(
            build_id=build.build_id, project_id=build.project_id, build_url=build_url(build)
        )

    def FinishBuild(self, call: ServerCall, request: pb.FinishBuildRequest) -> pb.FinishBuildResponse:
        build = callers_build(self.state, call, request.build_id)
        result = request.WhichOneof("result")
        if result is None:
            raise ConnectError(Code.INVALID_ARGUMENT, "result (success, error or canceled) is required")
        if result == "success":
            finish_build(self.state, build, BuildStatus.SUCCESS)
        elif result == "error":
            finish_build(self.state, build, BuildStatus.FAILED, request.error.error or "build failed")
        else:
            finish_build(self.state, build, BuildStatus.CANCELED, "canceled")
        self.broker.release(build.build_id, None, by="finish")
        return pb.FinishBuildResponse()

    async def GetBuildKitConnection(
        self, call: ServerCall, request: pb.GetBuildKitConnectionRequest
    ) -> pb.GetBuildKitConnectionResponse:
        build = callers_build(self.state, call, request.build_id)
        lease = await self.broker.poll(build, platform_name(request.platform))
        if lease.state != "active" or lease.opened is None:
            wait_ms = max(1, round(self.broker.pending_interval * 1000))
            return pb.GetBuildKitConnectionResponse(
                pending=pb.GetBuildKitConnectionResponse.PendingConnection(wait_ms=wait_ms)
            )
        opened = lease.opened
        active = pb.GetBuildKitConnectionResponse.ActiveConnection(
            endpoint=opened.endpoint,
            server_name=opened.server_name,
            identity=pb.GetBuildKitConnectionResponse.ActiveConnection.Identity(),
        )
        if opened.credentials is not None:
            active.cert.cert = opened.credentials.client_cert_pem
            active.cert.key = opened.credentials.client_key_pem
            active.ca_cert.cert = opened.credentials.ca_cert_pem
        return pb.GetBuildKitConnectionResponse(active=active)

    def ReportBuildHealth(
        self, call: ServerCall, request: pb.ReportBuildHealthRequest
    ) -> pb.ReportBuildHealthResponse:
        build = callers_build(self.state, call, request.build_id)
        response = pb.ReportBuildHealthResponse()
        with self.state.lock:
            if build.finished and build.status is not BuildStatus.SUCCESS and build.finished_at is not None:
                response.cancels_at.CopyFrom(timestamp(build.finished_at))
            elif build.cancel_requested_at is not None:
                response.cancels_at.CopyFrom(timestamp(build.cancel_requested_at))
        if not build.finished:
            self.broker.health(build, platform_name(request.platform))
        return response

    def ReportTimings(self, call: ServerCall, request: pb.ReportTimingsRequest) -> pb.ReportTimingsResponse:
        record_timings(self.state, callers_build(self.state, call, request.build_id), request.build_steps)
        return pb.ReportTimingsResponse()

    def ReportStatus(self, call: ServerCall, request: pb.ReportStatusRequest) -> pb.ReportStatusResponse:
        ingest_status(self.state, callers_build(self.state, call, request.build_id), request.statuses)
        return pb.ReportStatusResponse()

    async def ReportStatusStream(
        self, call: ServerCall, requests: AsyncIterator[pb.ReportStatusStreamRequest]
    ) -> pb.ReportStatusStreamResponse:
        async for request in requests:
            ingest_status(self.state, callers_build(self.state, call, request.build_id), request.statuses)
        return pb.ReportStatusStreamResponse()

    def ReportBuildContext(
        self, call: ServerCall, request: pb.ReportBuildContextRequest
    ) -> pb.ReportBuildContextResponse:
        build = callers_build(self.state, call, request.build_id)
        with self.state.lock:
            build.dockerfiles = [
                {"target": d.target, "filename": d.filename, "contents": d.contents}
                for d in request.dockerfiles
            ]
            self.state.changed()
        return pb.ReportBuildContextResponse()

    def ListBuilds(self, call: ServerCall, request: pb.ListBuildsRequest) -> pb.ListBuildsResponse:
        with self.state.lock:
            chunk, token = project_builds_page(
                self.state, call, request.project_id, "cli-builds", request.page_size, request.page_token
            )
            response = pb.ListBuildsResponse(next_page_token=token)
            for build in chunk:
                item = response.builds.add(id=build.build_id, status=STATUS[build.status])
                item.created_at.CopyFrom(timestamp(build.created_at))
                if build.finished_at is not None:
                    item.finished_at.CopyFrom(timestamp(build.finished_at))
        return response

    def GetPullInfo(self, call: ServerCall, request: pb.GetPullInfoRequest) -> pb.GetPullInfoResponse:
        build = callers_build(self.state, call, request.build_id)
        return pb.GetPullInfoResponse(
            reference=f"{REGISTRY_HOST}/{build.project_id}:{build.build_id}",
            username="x-token",
            password=pull_token_secret(),
            options=[_options_message(o) for o in build.options],
            save_for_load=any(o.save for o in build.options),
            registry_host=REGISTRY_HOST,
        )

    def GetPullToken(self, call: ServerCall, request: pb.GetPullTokenRequest) -> pb.GetPullTokenResponse:
        principal = caller(call)
        if request.HasField("build_id") and request.build_id:
            callers_build(self.state, call, request.build_id)
        elif request.HasField("project_id") and request.project_id:
            check_project(principal, self.state.project(request.project_id), request.project_id)
        elif principal.kind is not TokenKind.ORG:
            raise ConnectError(Code.INVALID_ARGUMENT, "project_id or build_id is required")
        return pb.GetPullTokenResponse(token=pull_token_secret())
