"""Every iter_* walks all pages of the real fake server and stops on an empty token."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from fake_depot import FakeDepot, Front

from airflow_provider_depot._proto.depot.build.v1 import build_pb2, registry_pb2
from airflow_provider_depot._proto.depot.core.v1 import build_pb2 as core_build_pb2
from airflow_provider_depot._proto.depot.core.v1 import project_pb2, usage_pb2
from airflow_provider_depot.client import PaginationError

START = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
END = dt.datetime(2025, 2, 1, tzinfo=dt.timezone.utc)


class Paged(NamedTuple):
    group: str
    iter_name: str
    list_name: str
    path: str
    kwargs: dict[str, Any]
    make: Callable[[int], Any]  # the i-th item of the listing

    def method(self, front: Front, name: str) -> Any:
        return getattr(getattr(front.client, self.group), name)


PAGED = [
    Paged(
        "registry",
        "iter_images",
        "list_images",
        "/depot.build.v1.RegistryService/ListImages",
        {"project_id": "p1"},
        lambda i: registry_pb2.Image(tag=f"t{i}", size_bytes=i),
    ),
    Paged(
        "builds",
        "iter_build_steps",
        "get_build_steps",
        "/depot.build.v1.BuildService/GetBuildSteps",
        {"project_id": "p1", "build_id": "b1"},
        lambda i: build_pb2.GetBuildStepsResponse.BuildStep(name=f"s{i}"),
    ),
    Paged(
        "builds",
        "iter_build_step_logs",
        "get_build_step_logs",
        "/depot.build.v1.BuildService/GetBuildStepLogs",
        {"project_id": "p1", "build_id": "b1", "build_step_digest": "sha256:ab"},
        lambda i: build_pb2.GetBuildStepLogsResponse.Log(message=f"line {i}"),
    ),
    Paged(
        "builds",
        "iter_builds",
        "list_builds",
        "/depot.core.v1.BuildService/ListBuilds",
        {"project_id": "p1"},
        lambda i: core_build_pb2.Build(build_id=f"b{i}"),
    ),
    Paged(
        "usage",
        "iter_project_usage",
        "list_project_usage",
        "/depot.core.v1.UsageService/ListProjectUsage",
        {"start_at": START, "end_at": END},
        lambda i: usage_pb2.ProjectUsage(project_id=f"p{i}", build_count=i),
    ),
    Paged(
        "projects",
        "iter_projects",
        "list_projects",
        "/depot.core.v1.ProjectService/ListProjects",
        {},
        lambda i: project_pb2.Project(project_id=f"p{i}"),
    ),
]
IDS = [case.iter_name for case in PAGED]


@pytest.mark.parametrize("case", PAGED, ids=IDS)
async def test_iter_walks_every_page_then_stops(front: Front, depot: FakeDepot, case: Paged) -> None:
    items = [case.make(i) for i in range(5)]
    depot.pages[case.path] = items  # served 2 per page: tokens "2", "4", then ""
    got = await front.collect(case.method(front, case.iter_name)(**case.kwargs))
    assert got == items
    assert depot.paths() == [case.path] * 3
    sent_tokens = [seen.messages[0].page_token for seen in depot.requests]
    assert sent_tokens == ["", "2", "4"]
    # the other arguments are repeated on every page
    for seen in depot.requests:
        for name, value in case.kwargs.items():
            sent = getattr(seen.messages[0], name)
            assert (
                sent.ToDatetime(tzinfo=dt.timezone.utc) if isinstance(value, dt.datetime) else sent
            ) == value


@pytest.mark.parametrize("case", PAGED, ids=IDS)
async def test_list_returns_one_page_with_its_token(front: Front, depot: FakeDepot, case: Paged) -> None:
    depot.pages[case.path] = [case.make(i) for i in range(5)]
    page = await front.call(case.method(front, case.list_name)(page_size=3, page_token="1", **case.kwargs))
    assert page.next_page_token == "4"
    assert depot.requests[0].messages[0].page_size == 3


async def test_page_size_and_resume_token_pass_through(front: Front, depot: FakeDepot) -> None:
    depot.pages["/depot.build.v1.RegistryService/ListImages"] = [
        registry_pb2.Image(tag=f"t{i}") for i in range(7)
    ]
    got = await front.collect(front.client.registry.iter_images(project_id="p1", page_size=3, page_token="1"))
    assert [image.tag for image in got] == ["t1", "t2", "t3", "t4", "t5", "t6"]
    assert [(s.messages[0].page_size, s.messages[0].page_token) for s in depot.requests] == [
        (3, "1"),
        (3, "4"),
    ]


async def test_empty_listing_is_one_request(front: Front, depot: FakeDepot) -> None:
    assert await front.collect(front.client.registry.iter_images(project_id="p1")) == []
    assert len(depot.requests) == 1


async def test_a_server_repeating_its_token_is_stopped(front: Front, depot: FakeDepot) -> None:
    depot.pages["/depot.build.v1.RegistryService/ListImages"] = [
        registry_pb2.Image(tag=f"t{i}") for i in range(9)
    ]
    depot.repeat_token = "same"
    with pytest.raises(PaginationError, match="RegistryService/ListImages"):
        await front.collect(front.client.registry.iter_images(project_id="p1"))
    assert len(depot.requests) == 2  # the first page, then the page the repeated token led to


async def test_a_cycle_back_to_the_starting_token_is_stopped(front: Front, depot: FakeDepot) -> None:
    depot.pages["/depot.core.v1.BuildService/ListBuilds"] = [core_build_pb2.Build(build_id="b")] * 9
    depot.repeat_token = "x"
    with pytest.raises(PaginationError):
        await front.collect(front.client.builds.iter_builds(project_id="p1", page_token="x"))
    assert len(depot.requests) == 1
