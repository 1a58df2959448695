"""DepotBaseOperator: the connection, the hook's lifecycle, and validation before any call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_depot.exceptions import run_validation
from airflow_provider_depot.hooks.depot import DepotHook

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_depot.client import DepotClient

class DepotBaseOperator(BaseOperator):
    """Base of the Depot operators.

    A subclass implements :meth:`validated` (check and normalise every argument, raising
    TypeError or ValueError naming it; no I/O) and :meth:`call_depot` (the API calls, given
    what :meth:`validated` returned). :meth:`execute` runs them in that order, so bad input
    fails before a connection is even read, and closes the hook's HTTP client afterwards.

    :param depot_conn_id: the ``depot`` Airflow connection to use (templated).
    """

    template_fields: Sequence[str] = ("depot_conn_id",)
    ui_color = "#e3ebff"

    def __init__(self, *, depot_conn_id: str = DepotHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.depot_conn_id = depot_conn_id

    @cached_property
    def hook(self) -> DepotHook:
        return DepotHook(depot_conn_id=self.depot_conn_id)

    def validated(self) -> Any:
        """Checked, normalised arguments for :meth:`call_depot`."""
        return None

    def call_depot(self, client: DepotClient, args: Any, context: Context) -> Any:
        raise NotImplementedError

    def delete_or_missing(self, delete: Callable[[], object], *, missing_ok: bool, what: str) -> bool:
        """Run ``delete()`` and log the outcome. True if it deleted; False if the API answered
        ``not_found`` and ``missing_ok`` allows that (a rerun after a successful delete).
        Other errors propagate."""
        from airflow_provider_depot.connect import Code, ConnectError

        try:
            delete()
        except ConnectError as exc:
            if missing_ok and exc.code is Code.NOT_FOUND:
                self.log.info("Nothing to delete: %s does not exist (missing_ok=True)", what)
                return False
            raise
        self.log.info("Deleted %s", what)
        return True

    def execute(self, context: Context) -> Any:
        args = run_validation(self.validated)
        client = self.hook.get_client()
        try:
            return self.call_depot(client, args, context)
        finally:
            self.hook.close()


class DepotProjectOperator(DepotBaseOperator):
    """A Depot operator about one project, named by ``project_id`` (templated).

    :meth:`validated` returns the checked ``project_id``; a subclass with more arguments
    overrides it and calls :meth:`checked_project_id`.
    """

    template_fields: Sequence[str] = (*DepotBaseOperator.template_fields, "project_id")

    def __init__(self, *, project_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.project_id = project_id

    def checked_project_id(self) -> str:
        from airflow_provider_depot.client._validation import require_id

        return require_id("project_id", self.project_id)

    def validated(self) -> Any:
        return self.checked_project_id()


def require_flag(name: str, value: object) -> bool:
    """``value`` if it is a bool; templated strings like ``"False"`` are refused, not guessed."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value
