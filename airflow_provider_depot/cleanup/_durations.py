"""``older_than``: a timedelta, a number of days, or an ISO-8601 duration; and age cut-offs."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

from ._errors import CleanupConfigError

_NUMBER = r"\d+(?:[.,]\d+)?"
# ISO 8601 durations: PnYnMnWnD then an optional T part with nHnMnS; at least one component,
# and a T must be followed by one. Weeks may be combined with the other designators (as in
# ISO 8601-2 and pendulum).
_ISO_DURATION = re.compile(
    rf"""P(?!\Z)
    (?:(?P<years>{_NUMBER})Y)?
    (?:(?P<months>{_NUMBER})M)?
    (?:(?P<weeks>{_NUMBER})W)?
    (?:(?P<days>{_NUMBER})D)?
    (?:T(?!\Z)
        (?:(?P<hours>{_NUMBER})H)?
        (?:(?P<minutes>{_NUMBER})M)?
        (?:(?P<seconds>{_NUMBER})S)?
    )?\Z""",
    re.VERBOSE,
)
_PLAIN_DAYS = re.compile(r"\d+(?:\.\d+)?\Z")
_NEVER = datetime.min.replace(tzinfo=timezone.utc)


def parse_older_than(value: object, *, parameter: str = "older_than") -> timedelta | None:
    """Turn an ``older_than`` value into a non-negative timedelta (None stays None).

    Accepted: a ``timedelta`` (pendulum Durations included); an int or float number of days; a
    string holding a number of days (``"30"``, as Airflow templates render); an ISO-8601
    duration (``"P30D"``, ``"P2W"``, ``"PT36H"``, ``"P1DT12H"``, decimals like ``"P1.5D"``).

    Years and months are refused, in ISO strings and in pendulum Durations alike: their length
    depends on the calendar, and a cleanup cut-off should not move by three days depending on
    which month it runs in. Write days or weeks instead.
    """
    if value is None:
        return None
    if isinstance(value, timedelta):
        if getattr(value, "years", 0) or getattr(value, "months", 0):
            raise CleanupConfigError(parameter, f"{_NO_CALENDAR_UNITS}, got {value!r}")
        age = value
    elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise CleanupConfigError(
            parameter,
            "must be a timedelta, a number of days or an ISO-8601 duration such as 'P30D', "
            f"got {type(value).__name__}",
        )
    elif isinstance(value, str):
        age = _parse_text(value.strip(), parameter)
    else:
        age = _days(value, parameter, original=value)
    if age < timedelta(0):
        raise CleanupConfigError(parameter, f"must not be negative, got {value!r}")
    return age


_NO_CALENDAR_UNITS = "years and months have no fixed length; give the age in days or weeks (e.g. 'P90D')"


def _parse_text(text: str, parameter: str) -> timedelta:
    if _PLAIN_DAYS.match(text):
        return _days(float(text), parameter, original=text)
    match = _ISO_DURATION.match(text.upper())
    if match is None:
        raise CleanupConfigError(
            parameter,
            f"{text!r} is neither a number of days nor an ISO-8601 duration such as 'P30D', 'P2W' or 'PT12H'",
        )
    parts = {name: float(number.replace(",", ".")) for name, number in match.groupdict().items() if number}
    if "years" in parts or "months" in parts:
        raise CleanupConfigError(parameter, f"{_NO_CALENDAR_UNITS}, got {text!r}")
    try:
        return timedelta(**parts)
    except OverflowError:
        raise CleanupConfigError(parameter, f"{text!r} is longer than a timedelta can hold") from None


def _days(number: float, parameter: str, *, original: object) -> timedelta:
    if not math.isfinite(number):
        raise CleanupConfigError(parameter, f"must be a finite number of days, got {original!r}")
    try:
        return timedelta(days=number)
    except OverflowError:
        problem = f"{original!r} days is longer than a timedelta can hold"
        raise CleanupConfigError(parameter, problem) from None


def age_cutoff(now: datetime, age: timedelta) -> datetime:
    """The instant before which an image is older than ``age`` at ``now``.

    When ``now - age`` falls before year 1 nothing can be that old, and the earliest instant
    is returned, so that a strict ``pushed_at < cutoff`` never holds.
    """
    try:
        return now - age
    except OverflowError:
        return _NEVER
