"""depot.buildkit.v1.BuildKitService: a build's BuildKit endpoint, its health, its release.

For the build's own build token (and org or project tokens that reach the build).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2 as pb
from airflow_provider_depot.connect._codes import Code
from airflow_provider_depot.connect._errors import ConnectError

from ...connect_server import ServerCall
from .._auth import check_build
from .._builds import get_build
from .._leases import EndpointBroker, Lease, platform_name
from .._state import DepotState
from ._common import caller, callers_build


def _active(lease: Lease) -> pb.GetEndpointResponse:
    opened = lease.opened
    assert opened is not None
    active = pb.GetEndpointResponse.ActiveConnection(endpoint=opened.endpoint, server_name=opened.server_name)
    if opened.credentials is not None:
        active.cert.cert.cert = opened.credentials.client_cert_pem
        active.cert.key.key = opened.credentials.client_key_pem
        active.ca_cert.cert = opened.credentials.ca_cert_pem
    return pb.GetEndpointResponse(active=active)


class BuildKitService:
    def __init__(self, state: DepotState, broker: EndpointBroker) -> None:
        self.state = state
        self.broker = broker

    async def GetEndpoint(
        self, call: ServerCall, request: pb.GetEndpointRequest
    ) -> AsyncIterator[pb.GetEndpointResponse]:
        build = callers_build(self.state, call, request.build_id)
        async for lease in self.broker.stream(build, platform_name(request.platform)):
            if lease.state == "active":
                yield _active(lease)
            else:
                yield pb.GetEndpointResponse(pending=pb.GetEndpointResponse.PendingConnection())

    async def ReportHealth(
        self, call: ServerCall, requests: AsyncIterator[pb.ReportHealthRequest]
    ) -> pb.ReportHealthResponse:
        principal = caller(call)
        async for request in requests:
            build = check_build(principal, get_build(self.state, request.build_id), request.build_id)
            if build.finished:
                raise ConnectError(
                    Code.FAILED_PRECONDITION, f"build {build.build_id} has ended ({build.status.value})"
                )
            self.broker.health(build, platform_name(request.platform))
        return pb.ReportHealthResponse()

    def ReleaseEndpoint(
        self, call: ServerCall, request: pb.ReleaseEndpointRequest
    ) -> pb.ReleaseEndpointResponse:
        build = callers_build(self.state, call, request.build_id)
        self.broker.release(build.build_id, platform_name(request.platform), by="release")
        return pb.ReleaseEndpointResponse()
