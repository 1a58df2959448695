"""BuildCloser: makes sure a build the task created does not stay "running" at Depot.

Both build operators end their build through it, once, on every way out of ``execute``
(return, exception, the task being killed). A failed FinishBuild is logged, not raised, so that
it cannot hide the task's own error; only ``finish(..., strict=True)``, for a build about to be
reported successful, raises it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_depot.client import DepotClient

    from ._task_log import TaskLog

    _Action = Callable[[], None]


class BuildCloser:
    def __init__(self, client: DepotClient, build_id: str, log: TaskLog) -> None:
        self._client = client
        self.build_id = build_id
        self._log = log
        self.done = False

    def finish(self, error: str | None, *, strict: bool = False) -> None:
        """FinishBuild, the first time only: successful when ``error`` is None. ``strict``:
        raise if that fails (say, Depot expired the build meanwhile) rather than only log it."""
        if not self.done:
            self.done = True
            self._call(lambda: self._finish(error), strict=strict)

    def finish_if_running(self, reason: str) -> None:
        """Finish the build with ``reason`` as its error unless Depot shows it ended already
        (the CLI finishes its builds itself, as canceled when it was stopped)."""
        if not self.done:
            self.done = True
            self._call(lambda: self._finish_running(reason))

    def _finish_running(self, reason: str) -> None:
        from airflow_provider_depot._proto.depot.core.v1.build_pb2 import Build

        build = self._client.builds.get_build(build_id=self.build_id).build
        if build.status in (Build.STATUS_RUNNING, Build.STATUS_UNSPECIFIED):
            self._finish(reason)
        else:
            self._log.info("Depot build %s ended as %s", self.build_id, Build.Status.Name(build.status))

    def _finish(self, error: str | None) -> None:
        self._client.builds.finish_build(build_id=self.build_id, error=error)
        outcome = "successful" if error is None else f"failed: {error}"
        self._log.info("Finished Depot build %s as %s", self.build_id, outcome)

    def _call(self, action: _Action, *, strict: bool = False) -> None:
        try:
            action()
        except Exception as exc:
            self._log.error("Could not finish Depot build %s: %s", self.build_id, exc)
            if strict:
                raise
