"""RegistryService: images per project, DeleteImage, bulk seeding."""

from __future__ import annotations

import datetime

import pytest

from airflow_provider_depot._proto.depot.build.v1 import registry_pb2
from airflow_provider_depot.connect import Code, ConnectError

UTC = datetime.timezone.utc
LIST = "depot.build.v1.RegistryService/ListImages"
DELETE = "depot.build.v1.RegistryService/DeleteImage"


def test_images_carry_tag_digest_pushed_at_and_size(emulator, rpc, project):
    pushed = datetime.datetime(2026, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)
    emulator.admin.add_images(
        project.project_id, ["v1"], digests=["sha256:" + "a" * 64], pushed_at=[pushed], sizes=[12345]
    )
    (image,) = rpc(LIST, registry_pb2.ListImagesRequest(project_id=project.project_id)).images
    assert (image.tag, image.digest, image.size_bytes) == ("v1", "sha256:" + "a" * 64, 12345)
    assert image.pushed_at.ToDatetime(tzinfo=UTC) == pushed


def test_delete_image_removes_tags(emulator, rpc, project):
    emulator.admin.add_images(project.project_id, ["a", "b", "c"])
    rpc(
        DELETE,
        registry_pb2.DeleteImageRequest(project_id=project.project_id, image_tags=["a", "c", "missing"]),
    )
    assert [
        i.tag for i in rpc(LIST, registry_pb2.ListImagesRequest(project_id=project.project_id)).images
    ] == ["b"]
    # Deleting again is harmless (a retried cleanup must not fail).
    rpc(DELETE, registry_pb2.DeleteImageRequest(project_id=project.project_id, image_tags=["a"]))


def test_delete_image_needs_tags(rpc, project):
    with pytest.raises(ConnectError) as info:
        rpc(DELETE, registry_pb2.DeleteImageRequest(project_id=project.project_id))
    assert info.value.code is Code.INVALID_ARGUMENT


def test_repushing_a_tag_replaces_its_image(emulator, rpc, project):
    emulator.admin.add_images(project.project_id, ["latest", "v1"], digests=["sha256:old", "sha256:v1"])
    emulator.admin.add_images(project.project_id, ["latest"], digests=["sha256:new"])
    images = rpc(LIST, registry_pb2.ListImagesRequest(project_id=project.project_id)).images
    assert [(i.tag, i.digest) for i in images] == [("latest", "sha256:new"), ("v1", "sha256:v1")]


def test_bulk_seed_and_mass_delete_keep_listing_consistent(emulator, rpc, project):
    emulator.admin.add_synthetic_images(project.project_id, 20_000)
    doomed = [f"img-{i:06d}" for i in range(0, 20_000) if i % 10]
    for start in range(0, len(doomed), 1000):
        rpc(
            DELETE,
            registry_pb2.DeleteImageRequest(
                project_id=project.project_id, image_tags=doomed[start : start + 1000]
            ),
        )
    tags, token = [], ""
    while True:
        request = (
            registry_pb2.ListImagesRequest(project_id=project.project_id, page_token=token)
            if token
            else (registry_pb2.ListImagesRequest(project_id=project.project_id))
        )
        reply = rpc(LIST, request)
        tags.extend(i.tag for i in reply.images)
        token = reply.next_page_token
        if not token:
            break
    assert tags == [f"img-{i:06d}" for i in range(19_990, -1, -10)]


def test_unknown_project_is_not_found(rpc):
    with pytest.raises(ConnectError) as info:
        rpc(LIST, registry_pb2.ListImagesRequest(project_id="nosuchproj"))
    assert info.value.code is Code.NOT_FOUND
