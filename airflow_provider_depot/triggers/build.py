"""DepotBuildTrigger: polls a build (core.v1 GetBuild) until it ends or a deadline passes.

Which build status ends the wait, and as what, is the one table ``TERMINAL_STATUSES`` in
``_build_events`` (the sensor's poke mode reads the same table); every event is a
``build_event`` payload.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from ._build_events import DEFAULT_POLL_INTERVAL, BuildEvent, build_event, event_for_build

if TYPE_CHECKING:
    from airflow_provider_depot.client import AsyncDepotClient


class DepotBuildTrigger(BaseTrigger):
    """Fires one event once build ``build_id`` ends, or once a deadline passes.

    :param build_id: the build.
    :param depot_conn_id: the ``depot`` connection.
    :param end_time: wall-clock deadline (UNIX seconds) of the wait, from the sensor's ``timeout``.
    :param execution_deadline: wall-clock deadline from the task's ``execution_timeout``, or None.
    :param poll_interval: seconds between GetBuild calls.

    Triggers of one triggerer share one client per connection (see ``_shared_client``).
    ``on_kill`` is not overridden: the trigger only watches a build that someone else runs,
    and a user killing the waiting task must not stop that build.
    """

    def __init__(
        self,
        *,
        build_id: str,
        depot_conn_id: str,
        end_time: float,
        execution_deadline: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.build_id = build_id
        self.depot_conn_id = depot_conn_id
        self.end_time = float(end_time)
        self.execution_deadline = None if execution_deadline is None else float(execution_deadline)
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "build_id": self.build_id,
                "depot_conn_id": self.depot_conn_id,
                "end_time": self.end_time,
                "execution_deadline": self.execution_deadline,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_depot.hooks.depot import DepotHook

        from ._shared_client import shared_async_client

        config = await DepotHook(depot_conn_id=self.depot_conn_id).aconfig()
        async with shared_async_client(config) as client:
            yield TriggerEvent(await self._wait(client))  # type: ignore[no-untyped-call]

    async def _wait(self, client: AsyncDepotClient) -> dict[str, Any]:
        from airflow_provider_depot.connect import ConnectError

        deadline, which = self._deadline()
        while True:
            try:
                build = (await client.builds.get_build(build_id=self.build_id)).build
            except ConnectError as exc:
                return build_event(
                    BuildEvent.POLL_ERROR,
                    build_id=self.build_id,
                    message=f"Polling Depot build {self.build_id} failed: {exc}",
                )
            event = event_for_build(build)
            if event is not None:
                return build_event(event, build_id=self.build_id, build=build)
            remaining = deadline - time.time()
            if remaining <= 0:
                return build_event(
                    BuildEvent.TIMEOUT,
                    build_id=self.build_id,
                    message=f"Depot build {self.build_id} was still running when its {which} passed",
                    deadline=which,
                )
            await asyncio.sleep(min(self.poll_interval, remaining))

    def _deadline(self) -> tuple[float, str]:
        if self.execution_deadline is not None and self.execution_deadline < self.end_time:
            return self.execution_deadline, "execution_timeout"
        return self.end_time, "timeout"
