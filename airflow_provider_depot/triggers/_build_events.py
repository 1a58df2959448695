"""How a wait for a Depot build ends: the one table from core.v1 build status to event, and the
event payload, shared by DepotBuildTrigger and DepotBuildSensor's poke mode.

Every event has one shape, ``{"status", "build_id", "message", "build", "deadline"}``, made by
``build_event``: ``status`` is a ``BuildEvent`` value, ``build`` the core.v1 Build as plain JSON
(None for ``timeout`` and ``poll_error``), ``deadline`` which deadline a ``timeout`` event is
about (``"timeout"`` or ``"execution_timeout"``, else None).

Kept apart from the trigger class so that a DAG file using the sensor does not import
``airflow.triggers.base`` (about 12 ms of pydantic models) while it is parsed.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_depot._proto.depot.core.v1.build_pb2 import Build

DEFAULT_POLL_INTERVAL = 30.0


class BuildEvent(str, enum.Enum):
    """What a wait for a build ended with."""

    SUCCESS = "success"
    FAILED = "failed"
    ERROR = "error"
    CANCELED = "canceled"
    TIMEOUT = "timeout"  # a deadline passed while the build was still running
    POLL_ERROR = "poll_error"  # GetBuild itself failed (after the client's retries)

    @property
    def is_build_failure(self) -> bool:
        return self in (BuildEvent.FAILED, BuildEvent.ERROR, BuildEvent.CANCELED)


# The table: a core.v1 Build.Status (by enum name) that ends the wait, and its event. Any other
# status (RUNNING, UNSPECIFIED, one added later) means "still running, poll again".
TERMINAL_STATUSES: Mapping[str, BuildEvent] = {
    "STATUS_SUCCESS": BuildEvent.SUCCESS,
    "STATUS_FAILED": BuildEvent.FAILED,
    "STATUS_ERROR": BuildEvent.ERROR,
    "STATUS_CANCELED": BuildEvent.CANCELED,
}
_MESSAGES = {
    BuildEvent.SUCCESS: "Depot build {build_id} succeeded",
    BuildEvent.FAILED: "Depot build {build_id} failed",
    BuildEvent.ERROR: "Depot build {build_id} ended with an error",
    BuildEvent.CANCELED: "Depot build {build_id} was canceled",
}


def event_for_build(build: Build) -> BuildEvent | None:
    """The event for ``build``'s status, None while it is still running."""
    from airflow_provider_depot._proto.depot.core.v1.build_pb2 import Build

    try:
        return TERMINAL_STATUSES.get(Build.Status.Name(build.status))
    except ValueError:  # a status number newer than these stubs: not one that ends the wait
        return None


def build_event(
    event: BuildEvent,
    *,
    build_id: str,
    message: str | None = None,
    build: Build | None = None,
    deadline: str | None = None,
) -> dict[str, Any]:
    """The payload of every event the trigger fires (and of the sensor's own polls)."""
    from airflow_provider_depot.operators._json import message_to_json

    return {
        "status": event.value,
        "build_id": build_id,
        "message": message or _MESSAGES[event].format(build_id=build_id),
        "build": None if build is None else message_to_json(build),
        "deadline": deadline,
    }
