"""Page sizes and opaque page tokens."""

from __future__ import annotations

import base64
import datetime

import pytest

from airflow_provider_depot._proto.depot.build.v1 import registry_pb2
from airflow_provider_depot._proto.depot.cli.v1 import build_pb2 as cli_pb2
from airflow_provider_depot._proto.depot.core.v1 import build_pb2 as core_build_pb2
from airflow_provider_depot._proto.depot.core.v1 import project_pb2, usage_pb2
from airflow_provider_depot.connect import Code, ConnectError

LIST_IMAGES = "depot.build.v1.RegistryService/ListImages"


def _all_images(rpc, project_id, page_size=None):
    tags, tokens = [], []
    token = ""
    while True:
        request = registry_pb2.ListImagesRequest(project_id=project_id)
        if page_size is not None:
            request.page_size = page_size
        if token:
            request.page_token = token
        reply = rpc(LIST_IMAGES, request)
        tags.extend(i.tag for i in reply.images)
        token = reply.next_page_token
        if not token:
            return tags, tokens
        tokens.append(token)


def test_images_page_newest_first_without_gaps_or_repeats(emulator, rpc, project):
    emulator.admin.add_synthetic_images(project.project_id, 250)
    tags, tokens = _all_images(rpc, project.project_id)
    assert tags == [f"img-{i:06d}" for i in reversed(range(250))]
    assert len(tokens) == 2  # pages of 100, 100, 50


def test_page_size_is_honoured(emulator, rpc, project):
    emulator.admin.add_synthetic_images(project.project_id, 10)
    tags, tokens = _all_images(rpc, project.project_id, page_size=3)
    assert len(tags) == 10 and len(set(tags)) == 10
    assert len(tokens) == 3


@pytest.mark.parametrize("size", [101, 1000, -1])
def test_page_size_out_of_range_is_invalid_argument(rpc, project, size):
    with pytest.raises(ConnectError) as info:
        rpc(LIST_IMAGES, registry_pb2.ListImagesRequest(project_id=project.project_id, page_size=size))
    assert info.value.code is Code.INVALID_ARGUMENT
    assert "page_size" in info.value.message


def test_page_tokens_are_opaque_and_tamper_proof(emulator, rpc, project):
    emulator.admin.add_synthetic_images(project.project_id, 5)
    token = rpc(
        LIST_IMAGES, registry_pb2.ListImagesRequest(project_id=project.project_id, page_size=2)
    ).next_page_token
    assert not token.isdigit()
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[7] ^= 1  # move the cursor by one
    forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    for bad in (forged, "2", "not a token", token[:-2]):
        with pytest.raises(ConnectError) as info:
            rpc(LIST_IMAGES, registry_pb2.ListImagesRequest(project_id=project.project_id, page_token=bad))
        assert info.value.code is Code.INVALID_ARGUMENT


def test_a_token_works_only_for_its_own_listing(emulator, rpc, project):
    other = emulator.admin.create_project("other")
    emulator.admin.add_synthetic_images(project.project_id, 5)
    emulator.admin.add_synthetic_images(other.project_id, 5)
    token = rpc(
        LIST_IMAGES, registry_pb2.ListImagesRequest(project_id=project.project_id, page_size=2)
    ).next_page_token
    with pytest.raises(ConnectError) as info:
        rpc(LIST_IMAGES, registry_pb2.ListImagesRequest(project_id=other.project_id, page_token=token))
    assert info.value.code is Code.INVALID_ARGUMENT


def test_deleting_between_pages_skips_nothing(emulator, rpc, project):
    emulator.admin.add_synthetic_images(project.project_id, 30)
    first = rpc(LIST_IMAGES, registry_pb2.ListImagesRequest(project_id=project.project_id, page_size=10))
    # A cleanup job deletes what it saw, then asks for the next page.
    rpc(
        "depot.build.v1.RegistryService/DeleteImage",
        registry_pb2.DeleteImageRequest(
            project_id=project.project_id, image_tags=[i.tag for i in first.images]
        ),
    )
    second = rpc(
        LIST_IMAGES,
        registry_pb2.ListImagesRequest(
            project_id=project.project_id, page_size=10, page_token=first.next_page_token
        ),
    )
    assert [i.tag for i in second.images] == [f"img-{i:06d}" for i in range(19, 9, -1)]


def test_list_builds_pages_newest_first(emulator, rpc, project):
    ids = [emulator.admin.create_build(project.project_id)[0] for _ in range(7)]
    seen, token = [], ""
    while True:
        request = core_build_pb2.ListBuildsRequest(project_id=project.project_id, page_size=3)
        if token:
            request.page_token = token
        reply = rpc("depot.core.v1.BuildService/ListBuilds", request)
        seen.extend(b.build_id for b in reply.builds)
        token = reply.next_page_token
        if not token:
            break
    assert seen == list(reversed(ids))
    cli = rpc(
        "depot.cli.v1.BuildService/ListBuilds",
        cli_pb2.ListBuildsRequest(project_id=project.project_id, page_size=5),
    )
    assert [b.id for b in cli.builds] == list(reversed(ids))[:5] and cli.next_page_token


def test_list_projects_pages_only_when_asked(emulator, rpc):
    for n in range(5):
        emulator.admin.create_project(f"p{n}")
    everything = rpc("depot.core.v1.ProjectService/ListProjects", project_pb2.ListProjectsRequest())
    assert len(everything.projects) == 5 and not everything.HasField("next_page_token")
    paged = rpc("depot.core.v1.ProjectService/ListProjects", project_pb2.ListProjectsRequest(page_size=2))
    assert len(paged.projects) == 2 and paged.next_page_token
    rest = rpc(
        "depot.core.v1.ProjectService/ListProjects",
        project_pb2.ListProjectsRequest(page_size=100, page_token=paged.next_page_token),
    )
    assert [p.name for p in rest.projects] == ["p2", "p3", "p4"] and not rest.next_page_token


def test_list_project_usage_pages(emulator, rpc):
    for n in range(3):
        emulator.admin.create_project(f"p{n}")
    request = usage_pb2.ListProjectUsageRequest(page_size=2)
    request.start_at.FromDatetime(datetime.datetime(2020, 1, 1))
    request.end_at.FromDatetime(datetime.datetime(2030, 1, 1))
    first = rpc("depot.core.v1.UsageService/ListProjectUsage", request)
    assert len(first.usage) == 2 and first.next_page_token
    request.page_token = first.next_page_token
    second = rpc("depot.core.v1.UsageService/ListProjectUsage", request)
    assert len(second.usage) == 1 and second.next_page_token == ""
