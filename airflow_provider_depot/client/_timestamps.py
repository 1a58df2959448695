"""datetime <-> google.protobuf.Timestamp.

Naive datetimes are refused rather than guessed: Airflow hands out aware values (pendulum
DateTime is a datetime subclass), and a naive one would silently shift a usage window by the
machine's UTC offset.
"""

from __future__ import annotations

import datetime as dt
from typing import TypeAlias

from google.protobuf.timestamp_pb2 import Timestamp

TimestampLike: TypeAlias = "dt.datetime | Timestamp"


def to_timestamp(value: TimestampLike, *, name: str = "value") -> Timestamp:
    """An aware ``datetime`` (pendulum included) or a Timestamp message as a new Timestamp;
    errors name the parameter ``name``."""
    if isinstance(value, Timestamp):
        copy = Timestamp()
        copy.CopyFrom(value)
        return copy
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{name} must be an aware datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got a naive datetime: {value.isoformat()})")
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(dt.timezone.utc))
    return stamp


def to_datetime(stamp: Timestamp) -> dt.datetime:
    """A Timestamp as an aware UTC datetime."""
    return stamp.ToDatetime(tzinfo=dt.timezone.utc)


def time_window(start_at: TimestampLike, end_at: TimestampLike) -> tuple[Timestamp, Timestamp]:
    """``start_at`` and ``end_at`` as Timestamps; the window must not be empty."""
    start, end = to_timestamp(start_at, name="start_at"), to_timestamp(end_at, name="end_at")
    if (end.seconds, end.nanos) <= (start.seconds, start.nanos):
        raise ValueError("end_at must be later than start_at")
    return start, end
