"""Usage as daily records, and the sums the UsageService reports for an interval.

**The interval rule.** A day is the UTC calendar day, and a day belongs to an interval
``[start_at, end_at)`` exactly when its first instant (00:00:00 UTC) lies in it. A partial day at
either end therefore counts wholly or not at all, and cutting ``[a, c)`` at any ``b`` into
``[a, b)`` and ``[b, c)`` hands each day to exactly one side: every counted quantity (builds,
durations, minutes, jobs, sandboxes) of the whole interval is the sum of its parts, for any
boundaries, not only midnights.

Builds add to their creation day (a build's duration and saved time count once it has finished).
Explicit records (from a seed, or ``Admin.set_usage``) add to theirs. Two quantities are levels,
not flows, and are reported as the value of the latest day of the interval that has one:
``layer_cache_size_gb`` and ``storage.total_gb``. Those two are not additive.

Seconds are kept as integers; minutes are derived at the end (``seconds / 60``), so the float
fields of sub-intervals add up to the whole's up to float32 rounding.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

_DAY = 86400
R = TypeVar("R")
K = TypeVar("K")


def day_of(when: datetime.datetime) -> int:
    """The day number (days since 1970-01-01) of the UTC day containing ``when``."""
    return math.floor(when.timestamp() / _DAY)


def days_in(start: datetime.datetime, end: datetime.datetime) -> range:
    """The day numbers whose midnight lies in ``[start, end)``."""
    return range(math.ceil(start.timestamp() / _DAY), math.ceil(end.timestamp() / _DAY))


def date_of_day(day: int) -> datetime.date:
    return datetime.date(1970, 1, 1) + datetime.timedelta(days=day)


def day_of_date(date: datetime.date) -> int:
    return (date - datetime.date(1970, 1, 1)).days


@dataclass
class ProjectDay:
    """A project's container-build usage on one day."""

    build_count: int = 0
    build_seconds: int = 0
    saved_seconds: int = 0
    billed_seconds: int = 0
    layer_cache_size_gb: int | None = None

    def add(self, other: ProjectDay) -> None:
        self.build_count += other.build_count
        self.build_seconds += other.build_seconds
        self.saved_seconds += other.saved_seconds
        self.billed_seconds += other.billed_seconds


@dataclass
class ActivityDay:
    """One day of a GitHub Actions (repo, workflow, runner) or an agent-sandbox type."""

    count: int = 0
    elapsed_seconds: int = 0
    billed_seconds: int = 0

    def add(self, other: ActivityDay) -> None:
        self.count += other.count
        self.elapsed_seconds += other.elapsed_seconds
        self.billed_seconds += other.billed_seconds


class UsageBook:
    """The explicit daily records. Build-derived usage is added by the caller (see ``_state``)."""

    def __init__(self) -> None:
        self.projects: dict[str, dict[int, ProjectDay]] = {}
        self.github_jobs: dict[tuple[str, str, str], dict[int, ActivityDay]] = {}
        self.agent_sandboxes: dict[str, dict[int, ActivityDay]] = {}
        self.storage_gb: dict[str, dict[int, float]] = {}

    def set_project_day(self, project_id: str, day: int, record: ProjectDay) -> None:
        self.projects.setdefault(project_id, {})[day] = record

    def set_github_day(self, repo: str, workflow: str, runner: str, day: int, record: ActivityDay) -> None:
        self.github_jobs.setdefault((repo, workflow, runner), {})[day] = record

    def set_sandbox_day(self, agent_type: str, day: int, record: ActivityDay) -> None:
        self.agent_sandboxes.setdefault(agent_type, {})[day] = record

    def set_storage_day(self, storage_type: str, day: int, total_gb: float) -> None:
        self.storage_gb.setdefault(storage_type, {})[day] = total_gb

    def drop_project(self, project_id: str) -> None:
        self.projects.pop(project_id, None)

    def project_total(self, project_id: str, days: range) -> ProjectDay:
        total = ProjectDay()
        records = self.projects.get(project_id, {})
        for _, record in _within(records, days):
            total.add(record)
            if record.layer_cache_size_gb is not None:
                total.layer_cache_size_gb = record.layer_cache_size_gb
        return total

    @staticmethod
    def activity_totals(table: Mapping[K, dict[int, ActivityDay]], days: range) -> dict[K, ActivityDay]:
        """Per key, the sum of its days in ``days`` (keys with nothing in them are left out)."""
        totals: dict[K, ActivityDay] = {}
        for key, records in table.items():
            total = ActivityDay()
            for _, record in _within(records, days):
                total.add(record)
            if total.count or total.elapsed_seconds or total.billed_seconds:
                totals[key] = total
        return totals

    def storage_levels(self, days: range) -> dict[str, float]:
        levels = {}
        for storage_type, records in self.storage_gb.items():
            latest = max((d for d in records if d in days), default=None)
            if latest is not None:
                levels[storage_type] = records[latest]
        return levels


def _within(records: dict[int, R], days: range) -> Iterator[tuple[int, R]]:
    """The records of ``days``, in day order (walking whichever of the two is shorter)."""
    if len(records) <= len(days):
        return ((d, r) for d, r in sorted(records.items()) if d in days)
    return ((d, records[d]) for d in days if d in records)
