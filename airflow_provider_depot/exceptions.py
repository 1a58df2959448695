"""The Airflow-facing errors for bad input: an argument or a connection that cannot work.

Both are AirflowFailException, so the task fails without retries (bad input does not get better
by waiting), and ValueError, like every other bad-argument error of the provider (the client
layer raises plain TypeError/ValueError; :func:`run_validation` turns them into these).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from airflow.sdk.exceptions import AirflowFailException

Validated = TypeVar("Validated")


class DepotParameterError(AirflowFailException, ValueError):
    """An operator, sensor or hook argument is invalid; the message starts with its name."""


class DepotConnectionConfigError(AirflowFailException, ValueError):
    """A ``depot`` connection's fields are invalid; the message names the field and the connection."""


def run_validation(check: Callable[[], Validated]) -> Validated:
    """``check()``, with its TypeError/ValueError turned into a DepotParameterError."""
    try:
        return check()
    except (DepotParameterError, DepotConnectionConfigError):
        raise
    except (TypeError, ValueError) as exc:
        raise DepotParameterError(str(exc)) from None
