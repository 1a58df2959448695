"""depot.build.v1.RegistryService: a project's images (org tokens and the project's own token).

ListImages pages newest push first (100 per page unless asked for fewer). DeleteImage removes the
given tags; tags that do not exist are ignored, so a repeated delete succeeds.
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from airflow_provider_depot._proto.depot.build.v1 import registry_pb2 as pb
from airflow_provider_depot.connect._codes import Code
from airflow_provider_depot.connect._errors import ConnectError

from ...connect_server import ServerCall
from .._auth import check_project
from .._paging import resolve_page_size
from .._state import DepotState
from ._common import caller, paging_fields, required


class RegistryService:
    def __init__(self, state: DepotState) -> None:
        self.state = state

    def _project_id(self, call: ServerCall, project_id: str) -> str:
        required(project_id, "project_id")
        return check_project(caller(call), self.state.project(project_id), project_id).project_id

    def ListImages(self, call: ServerCall, request: pb.ListImagesRequest) -> pb.ListImagesResponse:
        project_id = self._project_id(call, request.project_id)
        page_size, page_token = paging_fields(request)
        size = resolve_page_size(page_size)
        listing = f"images:{project_id}"
        after = self.state.pages.decode(page_token, listing)
        with self.state.lock:
            records, next_seq = self.state.project_images(project_id).page(after, size)
        response = pb.ListImagesResponse()
        images = response.images
        for record in records:
            image = images.add(tag=record.tag, digest=record.digest, size_bytes=record.size_bytes)
            pushed: Timestamp = image.pushed_at
            pushed.seconds, micros = divmod(record.pushed_at_us, 1_000_000)
            pushed.nanos = micros * 1000
        if next_seq is not None:
            response.next_page_token = self.state.pages.encode(listing, next_seq)
        return response

    def DeleteImage(self, call: ServerCall, request: pb.DeleteImageRequest) -> pb.DeleteImageResponse:
        project_id = self._project_id(call, request.project_id)
        if not request.image_tags:
            raise ConnectError(Code.INVALID_ARGUMENT, "image_tags must name at least one tag")
        if any(not tag for tag in request.image_tags):
            raise ConnectError(Code.INVALID_ARGUMENT, "image_tags must not contain an empty tag")
        self.state.delete_images(project_id, list(request.image_tags))
        return pb.DeleteImageResponse()
