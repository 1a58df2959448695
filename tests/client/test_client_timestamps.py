"""Timestamps: aware datetimes and pendulum values reach the server as the right instant."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from fake_depot import FakeDepot, Front
from google.protobuf.timestamp_pb2 import Timestamp

from airflow_provider_depot.client import to_datetime, to_timestamp

UTC = dt.timezone.utc


async def test_usage_window_from_pendulum_and_offset_datetimes(front: Front, depot: FakeDepot) -> None:
    start = pendulum.datetime(2025, 3, 1, 1, 30, tz="Europe/Paris")  # 00:30 UTC
    end = dt.datetime(
        2025, 3, 2, 5, 0, 0, 250_000, tzinfo=dt.timezone(dt.timedelta(hours=5))
    )  # 00:00:00.25 UTC
    await front.call(front.client.usage.get_usage(start_at=start, end_at=end))
    request = depot.requests[0].messages[0]
    assert to_datetime(request.start_at) == dt.datetime(2025, 3, 1, 0, 30, tzinfo=UTC)
    assert to_datetime(request.end_at) == dt.datetime(2025, 3, 2, 0, 0, 0, 250_000, tzinfo=UTC)
    assert request.start_at.seconds == int(start.timestamp())
    assert request.end_at.nanos == 250_000_000


async def test_project_usage_accepts_timestamp_messages(front: Front, depot: FakeDepot) -> None:
    start, end = Timestamp(seconds=1_700_000_000), Timestamp(seconds=1_700_086_400, nanos=5)
    await front.call(front.client.usage.get_project_usage(project_id="p1", start_at=start, end_at=end))
    request = depot.requests[0].messages[0]
    assert (request.project_id, request.start_at, request.end_at) == ("p1", start, end)


def test_round_trip_keeps_microseconds() -> None:
    value = dt.datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)
    assert to_datetime(to_timestamp(value)) == value
    assert to_datetime(to_timestamp(value)).tzinfo is UTC


def test_naive_datetimes_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="when must be timezone-aware"):
        to_timestamp(dt.datetime(2025, 1, 1), name="when")
