"""The Depot services the emulator serves, one module per service, bound into a route table."""

from __future__ import annotations

from airflow_provider_depot._proto.depot.build.v1 import build_pb2, registry_pb2
from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot._proto.depot.cli.v1 import build_pb2 as cli_build_pb2
from airflow_provider_depot._proto.depot.cli.v1beta1 import projects_pb2 as cli_projects_pb2
from airflow_provider_depot._proto.depot.core.v1 import build_pb2 as core_build_pb2
from airflow_provider_depot._proto.depot.core.v1 import org_pb2, project_pb2, usage_pb2

from ...connect_server import Route, route_table
from .._leases import EndpointBroker
from .._state import DepotState
from .buildkit import BuildKitService
from .builds import BuildService
from .cli_builds import CliBuildService
from .cli_projects import CliProjectsService
from .core_builds import CoreBuildService
from .organizations import OrganizationService
from .projects import ProjectService
from .registry import RegistryService
from .usage import UsageService


def depot_routes(state: DepotState, broker: EndpointBroker) -> dict[str, Route]:
    """Every served RPC path, bound to its handler."""
    return route_table(
        [
            (project_pb2.DESCRIPTOR.services_by_name["ProjectService"], ProjectService(state)),
            (usage_pb2.DESCRIPTOR.services_by_name["UsageService"], UsageService(state)),
            (core_build_pb2.DESCRIPTOR.services_by_name["BuildService"], CoreBuildService(state)),
            (org_pb2.DESCRIPTOR.services_by_name["OrganizationService"], OrganizationService(state)),
            (build_pb2.DESCRIPTOR.services_by_name["BuildService"], BuildService(state, broker)),
            (registry_pb2.DESCRIPTOR.services_by_name["RegistryService"], RegistryService(state)),
            (buildkit_pb2.DESCRIPTOR.services_by_name["BuildKitService"], BuildKitService(state, broker)),
            (cli_build_pb2.DESCRIPTOR.services_by_name["BuildService"], CliBuildService(state, broker)),
            (cli_projects_pb2.DESCRIPTOR.services_by_name["ProjectsService"], CliProjectsService(state)),
        ]
    )


__all__ = ["depot_routes"]
