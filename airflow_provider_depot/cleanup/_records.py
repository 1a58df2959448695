"""ImageRecord, the planner's view of one registry image, and the canonical order of a listing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One tag of a Depot registry, as ListImages reports it.

    Depot's registry lists tags, not manifests: two records may share a ``digest`` and each is
    deleted on its own by tag. ``pushed_at`` must be timezone-aware.
    """

    tag: str
    digest: str
    pushed_at: datetime
    size_bytes: int

    def __post_init__(self) -> None:
        if not self.tag:
            raise ValueError("ImageRecord.tag must be a non-empty string")
        if self.pushed_at.utcoffset() is None:
            raise ValueError(f"ImageRecord.pushed_at of tag {self.tag!r} must be timezone-aware")
        if self.size_bytes < 0:
            raise ValueError(f"ImageRecord.size_bytes of tag {self.tag!r} must be >= 0")


_by_tag = attrgetter("tag")
_by_pushed_at = attrgetter("pushed_at")


def _recency(record: ImageRecord) -> tuple[datetime, str, int]:
    return (record.pushed_at, record.digest, record.size_bytes)


def newest_first(records: Iterable[ImageRecord]) -> list[ImageRecord]:
    """The listing in canonical order: ``pushed_at`` descending, then ``tag`` ascending.

    A tag listed twice (the registry changed between two pages) counts once, as its most
    recently pushed record (ties broken by digest, then size), so the result depends only on the
    set of records, never on the order of the listing.
    """
    latest: dict[str, ImageRecord] = {}
    for record in records:
        seen = latest.get(record.tag)
        if seen is None or _recency(record) > _recency(seen):
            latest[record.tag] = record
    # Two stable sorts give "newest first, then tag ascending" without building composite keys.
    ordered = sorted(latest.values(), key=_by_tag)
    ordered.sort(key=_by_pushed_at, reverse=True)
    return ordered
