"""Checked by mypy (test_client_surface.py), never run: the return type of each front's calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Iterator

from typing_extensions import assert_type

from airflow_provider_depot._proto.depot.build.v1 import build_pb2, registry_pb2
from airflow_provider_depot._proto.depot.core.v1 import project_pb2, usage_pb2
from airflow_provider_depot.client import AsyncBuildKitSession, AsyncDepotClient, BuildKitSession, DepotClient


def sync_front(client: DepotClient, when: dt.datetime) -> None:
    assert_type(client.projects.get_project(project_id="p"), project_pb2.GetProjectResponse)
    assert_type(client.projects.iter_projects(), Iterator[project_pb2.Project])
    assert_type(client.registry.iter_images(project_id="p"), Iterator[registry_pb2.Image])
    assert_type(client.builds.create_build(project_id="p"), build_pb2.CreateBuildResponse)
    assert_type(
        client.builds.iter_build_step_logs(project_id="p", build_id="b", build_step_digest="d"),
        Iterator[build_pb2.GetBuildStepLogsResponse.Log],
    )
    assert_type(client.usage.iter_project_usage(start_at=when, end_at=when), Iterator[usage_pb2.ProjectUsage])
    assert_type(client.buildkit.session(build_id="b", build_token="t"), BuildKitSession)
    with client.buildkit.session(build_id="b", build_token="t") as session:
        assert_type(session, BuildKitSession)
        assert_type(session.host_port, str)
    client.registry.list_images(project_id=1)  # type: ignore[arg-type]
    client.registry.list_images(projectid="p")  # type: ignore[call-arg]


async def async_front(client: AsyncDepotClient, when: dt.datetime) -> None:
    assert_type(client.projects.get_project(project_id="p"), Awaitable[project_pb2.GetProjectResponse])
    assert_type(await client.registry.list_images(project_id="p"), registry_pb2.ListImagesResponse)
    assert_type(client.registry.iter_images(project_id="p"), AsyncIterator[registry_pb2.Image])
    assert_type(
        client.usage.iter_project_usage(start_at=when, end_at=when), AsyncIterator[usage_pb2.ProjectUsage]
    )
    async with client.buildkit.session(build_id="b", build_token="t", platform="linux/arm64") as session:
        assert_type(session, AsyncBuildKitSession)
