"""The part of a task's logger the build helpers use (``self.log`` of an operator is a
structlog-backed logger in Airflow 3, a ``logging.Logger`` elsewhere; both fit)."""

from __future__ import annotations

from typing import Any, Protocol


class TaskLog(Protocol):
    def info(self, msg: str, /, *args: Any) -> Any: ...
    def warning(self, msg: str, /, *args: Any) -> Any: ...
    def error(self, msg: str, /, *args: Any) -> Any: ...
