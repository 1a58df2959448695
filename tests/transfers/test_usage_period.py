"""Choosing and splitting the export period."""

from __future__ import annotations

import datetime as dt
import itertools

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_depot.transfers._usage_arguments import check_granularity
from airflow_provider_depot.transfers._usage_period import (
    Period,
    parse_instant,
    resolve_period,
    split_period,
)

UTC = dt.timezone.utc


def at(text: str) -> pendulum.DateTime:
    return parse_instant("t", text)


def test_aligned_data_interval_is_used_as_is() -> None:
    resolved = resolve_period(
        granularity="day", data_interval_start=at("2025-03-01"), data_interval_end=at("2025-03-02")
    )
    assert resolved.period == Period(at("2025-03-01"), at("2025-03-02"))
    assert resolved.reason == "the run's data interval"


def test_empty_interval_falls_back_to_the_previous_utc_day() -> None:
    # A manual run / `airflow dags test` / CronTriggerTimetable: start == end.
    noon = pendulum.datetime(2025, 3, 10, 12, 0, tz="Europe/Berlin")
    resolved = resolve_period(granularity="day", data_interval_start=noon, data_interval_end=noon)
    assert resolved.period == Period(at("2025-03-09"), at("2025-03-10"))
    assert "last complete UTC day before data_interval_end 2025-03-10T11:00:00Z" in resolved.reason


def test_missing_interval_uses_run_after() -> None:
    resolved = resolve_period(granularity="day", run_after=at("2025-03-10T00:00:00Z"))
    assert resolved.period == Period(at("2025-03-09"), at("2025-03-10"))
    assert "run_after" in resolved.reason
    hourly = resolve_period(granularity="hour", run_after=at("2025-03-10T05:59:59Z"))
    assert hourly.period == Period(at("2025-03-10T04:00:00Z"), at("2025-03-10T05:00:00Z"))


def test_no_interval_and_no_run_after_is_an_error() -> None:
    with pytest.raises(ValueError, match="neither a data interval nor run_after"):
        resolve_period(granularity="day")


def test_unaligned_daily_interval_exports_the_utc_day_ending_inside_it() -> None:
    # Daily at midnight Europe/Berlin (UTC+1 in March): [23:00Z, 23:00Z next day).
    resolved = resolve_period(
        granularity="day",
        data_interval_start=at("2025-03-01T23:00:00Z"),
        data_interval_end=at("2025-03-02T23:00:00Z"),
    )
    assert resolved.period == Period(at("2025-03-01"), at("2025-03-02"))
    assert resolved.reason.startswith("the whole UTC days ending inside data interval [2025-03-01T23:00:00Z")


def test_short_interval_with_no_unit_end_exports_nothing() -> None:
    resolved = resolve_period(
        granularity="day",
        data_interval_start=at("2025-03-01T10:00:00Z"),
        data_interval_end=at("2025-03-01T11:00:00Z"),
    )
    assert resolved.period is None
    assert "no whole UTC day ends inside" in resolved.reason


@given(
    offset_minutes=st.integers(min_value=0, max_value=24 * 60 - 1),
    runs=st.integers(min_value=1, max_value=40),
    granularity=st.sampled_from(["hour", "day"]),
)
def test_consecutive_daily_runs_cover_every_unit_exactly_once(
    offset_minutes: int, runs: int, granularity: str
) -> None:
    first = pendulum.datetime(2025, 2, 20, tz="UTC").add(minutes=offset_minutes)
    units: list[Period] = []
    for n in range(runs):
        resolved = resolve_period(
            granularity=check_granularity(granularity),
            data_interval_start=first.add(days=n),
            data_interval_end=first.add(days=n + 1),
        )
        assert resolved.period is not None
        units.extend(split_period(resolved.period, check_granularity(granularity)))
    for before, after in itertools.pairwise(units):
        assert before.end == after.start  # no gap, no overlap
    per_day = 24 if granularity == "hour" else 1
    assert len(units) == runs * per_day
    assert units[-1].end <= first.add(days=runs)


def test_explicit_start_and_end_override_the_interval() -> None:
    resolved = resolve_period(
        granularity="day",
        start="2025-01-01",
        end=dt.datetime(2025, 1, 31, tzinfo=UTC),
        data_interval_start=at("2025-03-01"),
        data_interval_end=at("2025-03-02"),
    )
    assert resolved.period == Period(at("2025-01-01"), at("2025-01-31"))
    assert resolved.reason == "explicit start and end"


def test_naive_and_offset_values_are_utc() -> None:
    assert parse_instant("start", "2025-01-01T01:00:00+01:00") == at("2025-01-01T00:00:00Z")
    assert parse_instant("start", dt.datetime(2025, 1, 1)) == at("2025-01-01T00:00:00Z")
    assert parse_instant("start", dt.date(2025, 1, 1)) == at("2025-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (
            "2025-01-02",
            "2025-01-01",
            r"end \(2025-01-01T00:00:00Z\) must be after start \(2025-01-02T00:00:00Z\)",
        ),
        ("2025-01-01", "2025-01-01", "must be after start"),
        (
            "2025-01-01T06:00:00Z",
            "2025-01-02",
            r"start \(2025-01-01T06:00:00Z\) is not on a UTC day boundary",
        ),
        ("2025-01-01", "2025-01-02T00:30:00Z", r"end .* is not on a UTC day boundary"),
        ("yesterday", "2025-01-02", "start is not an ISO 8601 date or timestamp: 'yesterday'"),
        ("2025-01-01", 12, "end must be a datetime or an ISO 8601 string"),
        ("2025-01-01", None, "end is required when start is given"),
        (None, "2025-01-01", "start is required when end is given"),
    ],
)
def test_bad_explicit_bounds_name_the_parameter(start: object, end: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_period(granularity="day", start=start, end=end)


def test_unknown_granularity_is_named() -> None:
    with pytest.raises(ValueError, match=r"granularity must be one of hour, day, week, month; got 'daily'"):
        check_granularity("daily")


@pytest.mark.parametrize(
    ("granularity", "start", "end", "pieces"),
    [
        ("day", "2025-02-27", "2025-03-02", ["2025-02-27", "2025-02-28", "2025-03-01", "2025-03-02"]),
        (
            "hour",
            "2025-03-01T22:00:00Z",
            "2025-03-02T01:00:00Z",
            ["2025-03-01T22:00:00Z", "2025-03-01T23:00:00Z", "2025-03-02T00:00:00Z", "2025-03-02T01:00:00Z"],
        ),
        ("week", "2025-03-03", "2025-03-17", ["2025-03-03", "2025-03-10", "2025-03-17"]),
        ("month", "2024-12-01", "2025-03-01", ["2024-12-01", "2025-01-01", "2025-02-01", "2025-03-01"]),
    ],
)
def test_split_into_units(granularity: str, start: str, end: str, pieces: list[str]) -> None:
    g = check_granularity(granularity)
    resolved = resolve_period(granularity=g, start=start, end=end)
    assert resolved.period is not None
    bounds = [at(p) for p in pieces]
    assert split_period(resolved.period, g) == [Period(a, b) for a, b in itertools.pairwise(bounds)]


def test_week_and_month_need_their_boundaries() -> None:
    with pytest.raises(ValueError, match="not on a UTC week boundary"):
        resolve_period(granularity="week", start="2025-03-04", end="2025-03-10")  # a Tuesday
    with pytest.raises(ValueError, match="not on a UTC month boundary"):
        resolve_period(granularity="month", start="2025-03-01", end="2025-03-15")
