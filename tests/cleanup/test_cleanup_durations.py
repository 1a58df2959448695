"""older_than parsing: timedelta, days, ISO-8601 durations; and the errors for everything else."""

from __future__ import annotations

import math
from datetime import timedelta

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_depot.cleanup import CleanupConfigError, parse_older_than


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (timedelta(hours=5), timedelta(hours=5)),
        (timedelta(0), timedelta(0)),
        (pendulum.duration(days=3, hours=2), timedelta(days=3, hours=2)),
        (30, timedelta(days=30)),
        (0.5, timedelta(hours=12)),
        ("30", timedelta(days=30)),
        (" 7.5 ", timedelta(days=7, hours=12)),
        ("P30D", timedelta(days=30)),
        ("p30d", timedelta(days=30)),
        ("P2W", timedelta(weeks=2)),
        ("P1W2D", timedelta(days=9)),
        ("PT36H", timedelta(hours=36)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("PT90M", timedelta(minutes=90)),
        ("PT45S", timedelta(seconds=45)),
        ("P1.5D", timedelta(days=1, hours=12)),
        ("P0,5D", timedelta(hours=12)),
        ("P0D", timedelta(0)),
    ],
)
def test_accepted_forms(value, expected):
    assert parse_older_than(value) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("P1M", "years and months"),
        ("P1Y", "years and months"),
        ("P1Y2M3D", "years and months"),
        (pendulum.duration(months=1), "years and months"),
        (pendulum.duration(years=1), "years and months"),
        ("-P1D", "neither a number of days nor an ISO-8601 duration"),
        ("P", "neither"),
        ("PT", "neither"),
        ("P1DT", "neither"),
        ("1 day", "neither"),
        ("P1H", "neither"),
        ("", "neither"),
        (-1, "negative"),
        (timedelta(seconds=-1), "negative"),
        (math.nan, "finite"),
        (math.inf, "finite"),
        ("P99999999999D", "longer than a timedelta"),
        (10**12, "longer than a timedelta"),
        (True, "must be a timedelta, a number of days or an ISO-8601 duration"),
        ([30], "must be a timedelta"),
    ],
)
def test_refused_forms_name_the_parameter(value, words):
    with pytest.raises(CleanupConfigError) as caught:
        parse_older_than(value)
    assert caught.value.parameter == "older_than"
    assert words in caught.value.problem


@settings(deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={unit: st.integers(0, 500) for unit in ("weeks", "days", "hours", "minutes", "seconds")},
    ).filter(bool)
)
def test_iso_durations_match_timedelta(parts):
    date = "".join(
        f"{parts[unit]}{letter}" for unit, letter in (("weeks", "W"), ("days", "D")) if unit in parts
    )
    time = "".join(
        f"{parts[unit]}{letter}"
        for unit, letter in (("hours", "H"), ("minutes", "M"), ("seconds", "S"))
        if unit in parts
    )
    text = f"P{date}" + (f"T{time}" if time else "")
    assert parse_older_than(text) == timedelta(**parts)
