"""depot.core.v1.OrganizationService: the organization an org token belongs to."""

from __future__ import annotations

from airflow_provider_depot._proto.depot.core.v1 import org_pb2 as pb

from ...connect_server import ServerCall
from .._auth import require_org_token
from .._state import DepotState
from ._common import timestamp


class OrganizationService:
    def __init__(self, state: DepotState) -> None:
        self.state = state

    def ListOrganizations(
        self, call: ServerCall, request: pb.ListOrganizationsRequest
    ) -> pb.ListOrganizationsResponse:
        caller = require_org_token(call.context)
        with self.state.lock:
            org = self.state.organizations[caller.org_id]
            return pb.ListOrganizationsResponse(
                organizations=[
                    pb.ListOrganizationsResponse.Organization(
                        org_id=org.org_id, name=org.name, created_at=timestamp(org.created_at)
                    )
                ]
            )
