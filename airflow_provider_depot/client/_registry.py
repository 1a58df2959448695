"""``client.registry``: depot.build.v1.RegistryService (the project's image registry)."""

from __future__ import annotations

from collections.abc import Iterable

from airflow_provider_depot._proto.depot.build.v1 import registry_pb2 as pb

from ._operations import Mode, ServiceGroup, unary
from ._pagination import paged
from ._validation import id_list, require_id, valid_page_size, valid_page_token

_SERVICE = pb.DESCRIPTOR.services_by_name["RegistryService"]


class RegistryAPI(ServiceGroup[Mode]):
    """Images in a project's Depot registry."""

    @unary(_SERVICE, pb.ListImagesResponse)
    def list_images(
        self, *, project_id: str, page_size: int | None = None, page_token: str | None = None
    ) -> pb.ListImagesRequest:
        """One page of images (the API suggests pages of up to 100)."""
        return pb.ListImagesRequest(
            project_id=require_id("project_id", project_id),
            page_size=valid_page_size(page_size),
            page_token=valid_page_token(page_token),
        )

    iter_images = paged(list_images, lambda response: response.images)

    @unary(_SERVICE, pb.DeleteImageResponse)
    def delete_image(self, *, project_id: str, image_tags: Iterable[str]) -> pb.DeleteImageRequest:
        """Delete the images with these tags (the RPC is singular, the tags are a list)."""
        return pb.DeleteImageRequest(
            project_id=require_id("project_id", project_id), image_tags=id_list("image_tags", image_tags)
        )
