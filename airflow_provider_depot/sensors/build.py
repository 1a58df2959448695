"""DepotBuildSensor: wait until a Depot build has ended (core.v1 GetBuild status)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowTaskTimeout,
)

from airflow_provider_depot.exceptions import run_validation
from airflow_provider_depot.hooks.depot import DepotHook
from airflow_provider_depot.links.build import DepotBuildLink, push_build_reference, resolve_build_url

if TYPE_CHECKING:
    from airflow.sdk import Context

# How long after the trigger's own deadline Airflow's deferral timeout fires: a safety net for
# a trigger that cannot fire at all; normally the trigger's "timeout" event comes first.
DEFER_TIMEOUT_BUFFER = dt.timedelta(minutes=5)


class DepotBuildSensor(BaseSensorOperator):
    """Wait for build ``build_id`` of project ``project_id`` to end.

    Success ends the wait and returns the build (core.v1 Build as JSON plus ``project_id``).
    A failed, errored or canceled build fails the task without retries, after logging its
    failing steps and the failing step's logs (build.v1 GetBuildSteps / GetBuildStepLogs).

    In ``poke`` and ``reschedule`` mode each poke is one GetBuild. With ``deferrable=True``
    (default: the ``[operators] default_deferrable`` option) the wait runs in the triggerer as
    a DepotBuildTrigger, with wall-clock deadlines from ``timeout`` and, if set,
    ``execution_timeout``; when one passes the trigger reports it and the task fails with
    AirflowSensorTimeout (``soft_fail`` applies) or AirflowTaskTimeout respectively.

    XCom ``build_url`` is pushed at the start, for the "Depot build" link.

    :param build_id: the build (templated), e.g. ``"{{ ti.xcom_pull('build', key='build_id') }}"``.
    :param project_id: its project (templated); needed to read the steps.
    :param depot_conn_id: the ``depot`` connection (templated).
    :param deferrable: wait in the triggerer instead of on a worker.
    :param poke_interval: seconds between polls, in every mode (None: 30 s).
    """

    template_fields: Sequence[str] = ("build_id", "project_id", "depot_conn_id")
    operator_extra_links = (DepotBuildLink(),)
    ui_color = "#e3ebff"

    def __init__(
        self,
        *,
        build_id: str,
        project_id: str,
        depot_conn_id: str = DepotHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: dt.timedelta | float | None = None,
        **kwargs: Any,
    ) -> None:
        if poke_interval is None:
            from airflow_provider_depot.triggers._build_events import DEFAULT_POLL_INTERVAL

            poke_interval = DEFAULT_POLL_INTERVAL
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.build_id = build_id
        self.project_id = project_id
        self.depot_conn_id = depot_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> DepotHook:
        return DepotHook(depot_conn_id=self.depot_conn_id)

    def _checked_ids(self) -> tuple[str, str]:
        from airflow_provider_depot.client._validation import require_id

        return require_id("build_id", self.build_id), require_id("project_id", self.project_id)

    def execute(self, context: Context) -> Any:
        build_id, project_id = run_validation(self._checked_ids)
        try:
            client = self.hook.get_client()
            url = resolve_build_url(
                client, org_id=self.hook.config.org_id, project_id=project_id, build_id=build_id
            )
            push_build_reference(context, build_id=build_id, url=url)
            if not self.deferrable:
                return super().execute(context)
            done = self.poke(context)  # an ended build needs no trip through the triggerer
            if done:
                return done.xcom_value if isinstance(done, PokeReturnValue) else None
        finally:
            self.hook.close()
        self._defer(context, build_id)
        return None

    def _defer(self, context: Context, build_id: str) -> None:
        from airflow_provider_depot.triggers.build import DepotBuildTrigger

        now = time.time()
        end_time = now + self.timeout
        deadline = None
        if self.execution_timeout is not None:
            started = context["ti"].start_date
            start = started.timestamp() if started is not None else now
            deadline = start + self.execution_timeout.total_seconds()
        trigger = DepotBuildTrigger(
            build_id=build_id,
            depot_conn_id=self.depot_conn_id,
            end_time=end_time,
            execution_deadline=deadline,
            poll_interval=self.poke_interval,
        )
        wait = min(end_time, deadline if deadline is not None else end_time) - now
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=dt.timedelta(seconds=max(wait, 0)) + DEFER_TIMEOUT_BUFFER,
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        from airflow_provider_depot.triggers._build_events import build_event, event_for_build

        build_id, _ = self._checked_ids()
        build = self.hook.get_client().builds.get_build(build_id=build_id).build
        event = event_for_build(build)
        if event is None:
            self.log.info("Depot build %s is still running", build_id)
            return False
        return PokeReturnValue(True, self._conclude(build_event(event, build_id=build_id, build=build)))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger fired: the same outcome as a poke would have had."""
        try:
            return self._conclude(event)
        finally:
            self.hook.close()

    def _conclude(self, event: dict[str, Any]) -> dict[str, Any]:
        """The task's result for a ``build_event`` payload; raises for anything but success."""
        from airflow_provider_depot.triggers._build_events import BuildEvent

        outcome = BuildEvent(event["status"])
        message = str(event["message"])
        if outcome is BuildEvent.SUCCESS:
            self.log.info("%s", message)
            return {**event["build"], "project_id": self.project_id}
        if outcome.is_build_failure:
            raise AirflowFailException(self._with_failing_step(message, event["build_id"]))
        if outcome is BuildEvent.TIMEOUT:
            if event.get("deadline") == "execution_timeout":
                raise AirflowTaskTimeout(message)
            raise AirflowSensorTimeout(message)
        raise AirflowException(message)  # POLL_ERROR: worth a retry

    def _with_failing_step(self, message: str, build_id: str) -> str:
        from airflow_provider_depot.operators._build_summary import failure_cause

        client = self.hook.get_client()
        cause = failure_cause(client, project_id=self.project_id, build_id=build_id, log=self.log)
        return f"{message} at step {cause}" if cause else message
