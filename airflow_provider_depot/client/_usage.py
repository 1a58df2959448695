"""``client.usage``: depot.core.v1.UsageService. Every call needs a window: aware ``start_at``
before ``end_at`` (datetime, pendulum DateTime or Timestamp)."""

from __future__ import annotations

from airflow_provider_depot._proto.depot.core.v1 import usage_pb2 as pb

from ._operations import Mode, ServiceGroup, unary
from ._pagination import paged
from ._timestamps import TimestampLike, time_window
from ._validation import require_id, valid_page_size, valid_page_token

_SERVICE = pb.DESCRIPTOR.services_by_name["UsageService"]


class UsageAPI(ServiceGroup[Mode]):
    """Organization and per-project usage over a time window."""

    @unary(_SERVICE, pb.GetUsageResponse)
    def get_usage(self, *, start_at: TimestampLike, end_at: TimestampLike) -> pb.GetUsageRequest:
        start, end = time_window(start_at, end_at)
        return pb.GetUsageRequest(start_at=start, end_at=end)

    @unary(_SERVICE, pb.GetProjectUsageResponse)
    def get_project_usage(
        self, *, project_id: str, start_at: TimestampLike, end_at: TimestampLike
    ) -> pb.GetProjectUsageRequest:
        project_id = require_id("project_id", project_id)
        start, end = time_window(start_at, end_at)
        return pb.GetProjectUsageRequest(project_id=project_id, start_at=start, end_at=end)

    @unary(_SERVICE, pb.ListProjectUsageResponse)
    def list_project_usage(
        self,
        *,
        start_at: TimestampLike,
        end_at: TimestampLike,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> pb.ListProjectUsageRequest:
        start, end = time_window(start_at, end_at)
        return pb.ListProjectUsageRequest(
            start_at=start,
            end_at=end,
            page_size=valid_page_size(page_size),
            page_token=valid_page_token(page_token),
        )

    iter_project_usage = paged(list_project_usage, lambda response: response.usage)
