"""DepotBuildTrigger against the emulator: serialization, every terminal state, the deadlines,
a failing poll, and one shared client for the triggers of a loop."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from depot_reports import end_build

from airflow_provider_depot.emulator import EmulatorHandle
from airflow_provider_depot.emulator.depot._model import BuildStatus
from airflow_provider_depot.triggers import _shared_client
from airflow_provider_depot.triggers._build_events import TERMINAL_STATUSES, BuildEvent
from airflow_provider_depot.triggers.build import DepotBuildTrigger

pytestmark = pytest.mark.depot_emulator(pending=0)


def _trigger(build_id: str, **overrides: Any) -> DepotBuildTrigger:
    arguments: dict[str, Any] = {
        "build_id": build_id,
        "depot_conn_id": "depot_default",
        "end_time": time.time() + 60,
        "poll_interval": 0.05,
    }
    arguments.update(overrides)
    return DepotBuildTrigger(**arguments)


async def _first_event(trigger: DepotBuildTrigger) -> dict[str, Any]:
    events = trigger.run()
    try:
        event = await asyncio.wait_for(events.__anext__(), timeout=30)
    finally:
        await events.aclose()
    return dict(event.payload)


def test_serialization_round_trip_through_airflows_serde() -> None:
    from airflow.sdk._shared.module_loading import import_string
    from airflow.sdk.serde import deserialize, serialize

    trigger = _trigger("b123", end_time=1_800_000_000.5, execution_deadline=1_800_000_100.0, poll_interval=7)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_depot.triggers.build.DepotBuildTrigger"
    revived = import_string(classpath)(**deserialize(serialize(kwargs)))
    assert revived.serialize() == (classpath, kwargs)
    assert kwargs == {
        "build_id": "b123",
        "depot_conn_id": "depot_default",
        "end_time": 1_800_000_000.5,
        "execution_deadline": 1_800_000_100.0,
        "poll_interval": 7.0,
    }


def test_the_table_covers_every_terminal_status_and_nothing_else() -> None:
    from airflow_provider_depot._proto.depot.core.v1.build_pb2 import Build

    waiting = {"STATUS_UNSPECIFIED", "STATUS_RUNNING"}
    assert set(TERMINAL_STATUSES) == set(Build.Status.keys()) - waiting
    failures = {BuildEvent.FAILED, BuildEvent.ERROR, BuildEvent.CANCELED}
    assert {event for event in BuildEvent if event.is_build_failure} == failures


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (BuildStatus.SUCCESS, "success"),
        (BuildStatus.FAILED, "failed"),
        (BuildStatus.ERROR, "error"),
        (BuildStatus.CANCELED, "canceled"),
    ],
)
async def test_each_terminal_status_fires_its_event(
    emulator: EmulatorHandle, project_id: str, status: BuildStatus, event: str
) -> None:
    build_id, _ = emulator.admin.create_build(project_id)
    error = None if event == "success" else "x"
    finisher = threading.Timer(0.3, end_build, (emulator, build_id, status, error))
    finisher.start()  # the trigger sees the build running first, then ended
    try:
        payload = await _first_event(_trigger(build_id))
    finally:
        finisher.join()
    assert payload["status"] == event
    assert payload["build_id"] == build_id
    assert payload["build"]["build_id"] == build_id
    assert payload["build"]["status"] == f"STATUS_{status.name}"
    assert payload["deadline"] is None
    gets = [e for e in emulator.admin.audit() if e["procedure"] == "depot.core.v1.BuildService/GetBuild"]
    assert len(gets) >= 2  # it polled while the build was running


async def test_the_wait_times_out_at_end_time(emulator: EmulatorHandle, project_id: str) -> None:
    build_id, _ = emulator.admin.create_build(project_id)
    payload = await _first_event(_trigger(build_id, end_time=time.time() + 0.3))
    assert (payload["status"], payload["deadline"], payload["build"]) == ("timeout", "timeout", None)
    assert "still running when its timeout passed" in payload["message"]


async def test_an_earlier_execution_deadline_wins(emulator: EmulatorHandle, project_id: str) -> None:
    build_id, _ = emulator.admin.create_build(project_id)
    trigger = _trigger(build_id, end_time=time.time() + 60, execution_deadline=time.time() + 0.2)
    payload = await _first_event(trigger)
    assert (payload["status"], payload["deadline"]) == ("timeout", "execution_timeout")


async def test_a_failing_poll_is_reported_as_such(emulator: EmulatorHandle) -> None:
    payload = await _first_event(_trigger("nosuchbuild"))
    assert payload["status"] == "poll_error"
    assert "not_found" in payload["message"] or "not found" in payload["message"]


async def test_triggers_of_one_loop_share_one_client(emulator: EmulatorHandle, project_id: str) -> None:
    build_ids = [emulator.admin.create_build(project_id)[0] for _ in range(5)]
    waits = [asyncio.ensure_future(_first_event(_trigger(b))) for b in build_ids]
    await asyncio.sleep(0.3)
    loop = asyncio.get_running_loop()
    [lease] = _shared_client._LEASES[loop].values()
    assert lease.users == 5
    for build_id in build_ids:
        end_build(emulator, build_id, BuildStatus.SUCCESS)
    assert {p["status"] for p in await asyncio.gather(*waits)} == {"success"}
    assert _shared_client._LEASES[loop] == {}  # closed by the last trigger out
