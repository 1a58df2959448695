"""MethodSpec and method_spec_from_descriptor, on the generated Depot descriptors."""

from __future__ import annotations

import re

import pytest
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message

from airflow_provider_depot._proto.depot.build.v1 import build_pb2
from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot._proto.depot.core.v1 import project_pb2
from airflow_provider_depot.connect import MethodKind, MethodSpec, method_spec_from_descriptor

PROJECTS = project_pb2.DESCRIPTOR.services_by_name["ProjectService"]
BUILDKIT = buildkit_pb2.DESCRIPTOR.services_by_name["BuildKitService"]


def test_path_and_rpc() -> None:
    spec = MethodSpec(
        service="depot.core.v1.ProjectService",
        name="GetProject",
        kind=MethodKind.UNARY,
        input=project_pb2.GetProjectRequest,
        output=project_pb2.GetProjectResponse,
        idempotent=True,
    )
    assert spec.path == "/depot.core.v1.ProjectService/GetProject"
    assert spec.rpc == "ProjectService/GetProject"
    assert spec == method_spec_from_descriptor(PROJECTS, "GetProject")
    assert hash(spec) == hash(method_spec_from_descriptor(PROJECTS, "GetProject"))


@pytest.mark.parametrize(
    ("service", "name", "kind", "cls_in", "cls_out", "idempotent"),
    [
        (
            PROJECTS,
            "ListProjects",
            MethodKind.UNARY,
            project_pb2.ListProjectsRequest,
            project_pb2.ListProjectsResponse,
            True,
        ),
        (
            PROJECTS,
            "CreateProject",
            MethodKind.UNARY,
            project_pb2.CreateProjectRequest,
            project_pb2.CreateProjectResponse,
            False,
        ),
        (
            PROJECTS,
            "DeleteToken",
            MethodKind.UNARY,
            project_pb2.DeleteTokenRequest,
            project_pb2.DeleteTokenResponse,
            False,
        ),
        (
            BUILDKIT,
            "GetEndpoint",
            MethodKind.SERVER_STREAM,
            buildkit_pb2.GetEndpointRequest,
            buildkit_pb2.GetEndpointResponse,
            True,
        ),
        (
            BUILDKIT,
            "ReportHealth",
            MethodKind.CLIENT_STREAM,
            buildkit_pb2.ReportHealthRequest,
            buildkit_pb2.ReportHealthResponse,
            False,
        ),
        (
            build_pb2.DESCRIPTOR.services_by_name["BuildService"],
            "GetBuildSteps",
            MethodKind.UNARY,
            build_pb2.GetBuildStepsRequest,
            build_pb2.GetBuildStepsResponse,
            True,
        ),
    ],
)
def test_from_descriptor(
    service: ServiceDescriptor,
    name: str,
    kind: MethodKind,
    cls_in: type[Message],
    cls_out: type[Message],
    idempotent: bool,
) -> None:
    spec = method_spec_from_descriptor(service, name)
    assert (spec.service, spec.name, spec.kind, spec.idempotent) == (
        service.full_name,
        name,
        kind,
        idempotent,
    )
    # The very classes the generated modules define, so isinstance checks hold.
    assert spec.input is cls_in
    assert spec.output is cls_out


def test_unknown_method_names_the_parameter() -> None:
    with pytest.raises(
        ValueError, match=re.escape("name: depot.core.v1.ProjectService has no method 'GetProjects'")
    ):
        method_spec_from_descriptor(PROJECTS, "GetProjects")


def test_spec_is_frozen() -> None:
    spec = method_spec_from_descriptor(PROJECTS, "GetProject")
    with pytest.raises(AttributeError):
        setattr(spec, "name", "Other")  # noqa: B010 (the assignment itself is the test)
