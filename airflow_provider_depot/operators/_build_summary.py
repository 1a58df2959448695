"""A build's steps as Depot recorded them (build.v1 GetBuildSteps): the summary an operator
returns, and, when the build failed, the failing step with its logs for the task log.

Shared by DepotBuildOperator and DepotBuildSensor. The steps are generated protobuf messages;
nothing here imports protobuf at module import.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_depot._proto.depot.build.v1.build_pb2 import GetBuildStepsResponse
    from airflow_provider_depot.client import DepotClient

    from ._task_log import TaskLog

    BuildStep = GetBuildStepsResponse.BuildStep

LOG_LINES_PER_STEP = 200
# BuildKit marks the steps it stopped because another one failed with these errors; the step to
# blame is one with a different error.
_KNOCK_ON_ERRORS = ("context canceled", "canceled")


@dataclass(frozen=True)
class StepsReport:
    """A build's steps, fetched once."""

    steps: Sequence[BuildStep]

    def summary(self) -> dict[str, Any]:
        """``{total, cached, failed, cached_steps, duration_seconds}`` (plain JSON).

        ``duration_seconds`` spans from the first step's start to the last step's completion
        (None without completed steps).
        """
        from airflow_provider_depot._proto.depot.build.v1.build_pb2 import GetBuildStepsResponse

        cached_state = GetBuildStepsResponse.BuildStep.CACHE_STATE_CACHED
        cached = [s.name for s in self.steps if s.cache_state == cached_state]
        return {
            "total": len(self.steps),
            "cached": len(cached),
            "failed": len(self.failing()),
            "cached_steps": cached,
            "duration_seconds": self._duration(),
        }

    def failing(self) -> list[BuildStep]:
        return [s for s in self.steps if s.HasField("error")]

    def culprit(self) -> BuildStep | None:
        """The failing step that caused the failure: the first whose error is not a knock-on one."""
        failing = self.failing()
        causes = [s for s in failing if s.error.strip().lower() not in _KNOCK_ON_ERRORS]
        blamed = causes or failing
        return blamed[0] if blamed else None

    def _duration(self) -> float | None:
        ends = [s.completed_at.ToDatetime() for s in self.steps if s.HasField("completed_at")]
        if not ends:
            return None
        start = min(s.started_at.ToDatetime() for s in self.steps)
        return round(max(0.0, (max(ends) - start).total_seconds()), 3)


def fetch_steps(client: DepotClient, *, project_id: str, build_id: str) -> StepsReport:
    return StepsReport(list(client.builds.iter_build_steps(project_id=project_id, build_id=build_id)))


def failure_cause(client: DepotClient, *, project_id: str, build_id: str, log: TaskLog) -> str | None:
    """Log the failed build's failing steps and the culprit's last log lines; return
    ``"STEP: ERROR"`` for the culprit, None if Depot recorded none or could not be asked."""
    from airflow_provider_depot.connect import ConnectError

    try:
        report = fetch_steps(client, project_id=project_id, build_id=build_id)
        return _explain(client, report, project_id=project_id, build_id=build_id, log=log)
    except ConnectError as exc:
        log.warning("Could not read the steps of build %s: %s", build_id, exc)
        return None


def _explain(
    client: DepotClient, report: StepsReport, *, project_id: str, build_id: str, log: TaskLog
) -> str | None:
    culprit = report.culprit()
    if culprit is None:
        log.error("Depot recorded no failing step for build %s", build_id)
        return None
    for step in report.failing():
        log.error("Failed step %r: %s", step.name, step.error)
    if culprit.has_logs:
        shown: collections.deque[str] = collections.deque(maxlen=LOG_LINES_PER_STEP)
        total = 0
        for entry in client.builds.iter_build_step_logs(
            project_id=project_id, build_id=build_id, build_step_digest=culprit.digest
        ):
            shown.append(entry.message)
            total += 1
        skipped = f" (last {len(shown)} of {total})" if len(shown) < total else ""
        log.error("Logs of step %r%s:\n%s", culprit.name, skipped, "\n".join(shown))
    return f"{culprit.name}: {culprit.error}"
