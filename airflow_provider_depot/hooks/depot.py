"""DepotHook: an Airflow connection of type ``depot`` turned into a Depot API client."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from airflow_provider_depot.exceptions import DepotConnectionConfigError, DepotParameterError

if TYPE_CHECKING:
    from airflow.sdk.definitions.connection import Connection

    from airflow_provider_depot.client import AsyncDepotClient, DepotClient

    from ._connection_config import DepotConnectionConfig


class DepotHook(BaseHook):
    """Talks to the Depot API with the token stored in a ``depot`` connection.

    One pooled HTTP client is created per hook instance and reused across calls; close it
    with :meth:`close` (operators do) or let the process end.

    :param depot_conn_id: the Airflow connection holding the token in its password field.
    """

    conn_name_attr = "depot_conn_id"
    default_conn_name = "depot_default"
    conn_type = "depot"
    hook_name = "Depot"

    def __init__(self, depot_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not depot_conn_id:
            raise DepotParameterError("depot_conn_id must not be empty")
        self.depot_conn_id = depot_conn_id
        self._client: DepotClient | None = None
        self._async_client: AsyncDepotClient | None = None

    @staticmethod
    def _config_of(conn: Connection) -> DepotConnectionConfig:
        from ._connection_config import resolve_connection

        if conn.password:
            mask_secret(conn.password)
        try:
            return resolve_connection(
                password=conn.password,
                host=conn.host,
                port=conn.port,
                extra=conn.extra_dejson,
            )
        except ValueError as exc:
            raise DepotConnectionConfigError(f"{exc} (connection {conn.conn_id!r})") from None

    @cached_property
    def config(self) -> DepotConnectionConfig:
        return self._config_of(self.get_connection(self.depot_conn_id))

    async def aconfig(self) -> DepotConnectionConfig:
        """The same as :attr:`config`, read through the async connection API (for triggers)."""
        if "config" not in self.__dict__:
            self.__dict__["config"] = self._config_of(await self.aget_connection(self.depot_conn_id))
        return self.config

    def get_client(self) -> DepotClient:
        if self._client is None:
            from airflow_provider_depot.client import DepotClient

            self._client = DepotClient(**self.config.client_kwargs())
        return self._client

    def get_async_client(self) -> AsyncDepotClient:
        """An async client; in a trigger, ``await hook.aconfig()`` first."""
        if self._async_client is None:
            from airflow_provider_depot.client import AsyncDepotClient

            self._async_client = AsyncDepotClient(**self.config.client_kwargs())
        return self._async_client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None

    def test_connection(self) -> tuple[bool, str]:
        """One cheap call (ListOrganizations), for the UI's Test button."""
        from airflow_provider_depot.connect import ConnectError

        try:
            orgs = self.get_client().organizations.list_organizations().organizations
        except (ConnectError, ValueError) as exc:
            return False, str(exc)
        finally:
            self.close()
        names = ", ".join(o.name or o.org_id for o in orgs) or "no organizations"
        return True, f"Connected to Depot at {self.config.base_url} ({names})"
