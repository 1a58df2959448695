"""Which period a usage export covers, and the sub-periods its rows are cut into.

All arithmetic is in UTC and every period is made of whole granularity units (UTC hours, days,
ISO weeks starting Monday, calendar months). That is what makes a table set safe to replace
period by period: two exports at the same granularity either cover the same unit rows or
disjoint ones, never a partial overlap. Mixing granularities in one table set is not guarded
(a coarse row and a finer one over the same time would both count), so keep one per prefix.

How the period is chosen, in order:

1. ``start`` and ``end`` given: exactly that span; both must lie on unit boundaries.
2. A non-empty data interval: the whole units that end inside (start, end]. For an interval
   aligned to the unit that is the interval itself; a daily interval that is not (midnight in
   Europe/Berlin is 23:00 UTC) exports the UTC day that ended within it, so consecutive runs
   still cover each unit exactly once. An interval shorter than the unit may contain no unit
   end at all: nothing is exported.
3. An empty or missing interval (manual runs, ``airflow dags test``, CronTriggerTimetable): the
   last complete unit before data_interval_end, or before run_after when there is no interval.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pendulum

from ._usage_arguments import Granularity


@dataclass(frozen=True)
class Period:
    """A half-open UTC span [start, end)."""

    start: pendulum.DateTime
    end: pendulum.DateTime

    def __str__(self) -> str:
        return f"[{_iso(self.start)}, {_iso(self.end)})"


@dataclass(frozen=True)
class ResolvedPeriod:
    """The chosen period (None: nothing to export) and a sentence saying why, for the log."""

    period: Period | None
    reason: str


def parse_instant(name: str, value: object) -> pendulum.DateTime:
    """A datetime, date or ISO 8601 string as an aware UTC instant; naive values are UTC."""
    if isinstance(value, dt.datetime):
        instant = pendulum.instance(value, tz="UTC")
    elif isinstance(value, dt.date):
        instant = pendulum.datetime(value.year, value.month, value.day, tz="UTC")
    elif isinstance(value, str) and value.strip():
        try:
            parsed = pendulum.parse(value.strip(), tz="UTC")
        except ValueError:  # pendulum's ParserError is one
            raise ValueError(f"{name} is not an ISO 8601 date or timestamp: {value!r}") from None
        if not isinstance(parsed, pendulum.DateTime):
            raise ValueError(f"{name} must be a date or timestamp, got {value!r}")
        instant = parsed
    else:
        raise ValueError(f"{name} must be a datetime or an ISO 8601 string, got {value!r}")
    return instant.in_timezone("UTC")


def unit_floor(instant: pendulum.DateTime, granularity: Granularity) -> pendulum.DateTime:
    """The start of the UTC unit containing ``instant``."""
    return instant.in_timezone("UTC").start_of(granularity)


def shift(instant: pendulum.DateTime, granularity: Granularity, count: int) -> pendulum.DateTime:
    """``instant`` moved by ``count`` units (negative: back)."""
    if granularity == "hour":
        return instant.add(hours=count)
    if granularity == "day":
        return instant.add(days=count)
    if granularity == "week":
        return instant.add(weeks=count)
    return instant.add(months=count)


def resolve_period(
    *,
    granularity: Granularity,
    start: object = None,
    end: object = None,
    data_interval_start: dt.datetime | None = None,
    data_interval_end: dt.datetime | None = None,
    run_after: dt.datetime | None = None,
) -> ResolvedPeriod:
    """Pick the export period (see the module docstring); bad ``start``/``end`` raise ValueError."""
    if start is not None or end is not None:
        return ResolvedPeriod(_explicit(start, end, granularity), "explicit start and end")
    if data_interval_start is not None and data_interval_end is not None:
        interval_start = parse_instant("data_interval_start", data_interval_start)
        interval_end = parse_instant("data_interval_end", data_interval_end)
        if interval_end > interval_start:
            period = Period(unit_floor(interval_start, granularity), unit_floor(interval_end, granularity))
            interval = Period(interval_start, interval_end)
            if period.end <= period.start:
                return ResolvedPeriod(
                    None, f"no whole UTC {granularity} ends inside data interval {interval}"
                )
            if period == interval:
                return ResolvedPeriod(period, "the run's data interval")
            return ResolvedPeriod(
                period, f"the whole UTC {granularity}s ending inside data interval {interval}"
            )
    if data_interval_end is not None:
        anchor, anchor_name = parse_instant("data_interval_end", data_interval_end), "data_interval_end"
    elif run_after is not None:
        anchor, anchor_name = parse_instant("run_after", run_after), "run_after"
    else:
        raise ValueError("no start/end given and the run has neither a data interval nor run_after")
    period_end = unit_floor(anchor, granularity)
    return ResolvedPeriod(
        Period(shift(period_end, granularity, -1), period_end),
        f"the data interval is empty or missing, so the last complete UTC {granularity} "
        f"before {anchor_name} {_iso(anchor)}",
    )


def split_period(period: Period, granularity: Granularity) -> list[Period]:
    """``period`` (on unit boundaries) cut into consecutive single units."""
    pieces: list[Period] = []
    cursor = period.start
    while cursor < period.end:
        following = shift(cursor, granularity, 1)
        pieces.append(Period(cursor, following))
        cursor = following
    return pieces


def _explicit(start: object, end: object, granularity: Granularity) -> Period:
    if start is None or end is None:
        missing = "start" if start is None else "end"
        raise ValueError(f"{missing} is required when {'end' if missing == 'start' else 'start'} is given")
    period = Period(parse_instant("start", start), parse_instant("end", end))
    if period.end <= period.start:
        raise ValueError(f"end ({_iso(period.end)}) must be after start ({_iso(period.start)})")
    for name, instant in (("start", period.start), ("end", period.end)):
        if unit_floor(instant, granularity) != instant:
            raise ValueError(
                f"{name} ({_iso(instant)}) is not on a UTC {granularity} boundary; exports replace whole "
                f"{granularity}s, so use e.g. {_iso(unit_floor(instant, granularity))} or set granularity"
            )
    return period


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
