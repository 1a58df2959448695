"""``client.organizations``: depot.core.v1.OrganizationService."""

from __future__ import annotations

from airflow_provider_depot._proto.depot.core.v1 import org_pb2 as pb

from ._operations import Mode, ServiceGroup, unary

_SERVICE = pb.DESCRIPTOR.services_by_name["OrganizationService"]


class OrganizationsAPI(ServiceGroup[Mode]):
    @unary(_SERVICE, pb.ListOrganizationsResponse)
    def list_organizations(self) -> pb.ListOrganizationsRequest:
        """The organizations the token can see."""
        return pb.ListOrganizationsRequest()
