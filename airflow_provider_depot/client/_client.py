"""DepotClient / AsyncDepotClient: one pooled transport, six service groups.

As in httpx, a shared base holds the constructor; the fronts differ only in the transport
class they own and the mode their service groups are parametrized with. Every operation is
defined once, in the group classes. DEPOT_API_URL is not read here (the hook resolves it).
"""

from __future__ import annotations

from types import TracebackType
from typing import ClassVar, Generic, Literal

from airflow_provider_depot.connect import AsyncConnectTransport, ConnectTransport, TransportOptions

from ._buildkit import BuildKitAPI
from ._builds import BuildsAPI
from ._operations import AsyncMode, Mode, SyncMode
from ._organizations import OrganizationsAPI
from ._projects import ProjectsAPI
from ._registry import RegistryAPI
from ._usage import UsageAPI
from ._validation import optional_id, require_text

DEFAULT_BASE_URL = "https://api.depot.dev"
HttpVersion = Literal["auto", "1.1", "h2c", "2"]
CodecName = Literal["proto", "json"]


class _DepotClientBase(Generic[Mode]):
    """``token``: an organization or project token (never logged). ``base_url``: the API root.
    ``org_id``: default ``organization_id`` for ``projects.create_project``. ``timeout``: default
    per-call deadline in seconds (None: none). ``max_retries``: retries of reads on
    ``unavailable``. ``http_version``, ``verify`` (bool or CA bundle path), ``codec``: transport
    settings.
    """

    _transport_class: ClassVar[type[ConnectTransport] | type[AsyncConnectTransport]]

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        org_id: str | None = None,
        timeout: float | None = None,
        max_retries: int = 3,
        http_version: HttpVersion = "auto",
        verify: bool | str = True,
        codec: CodecName = "proto",
    ) -> None:
        options = TransportOptions(
            base_url=require_text("base_url", base_url),
            token=require_text("token", token),
            codec=codec,
            http_version=http_version,
            timeout=timeout,
            max_retries=max_retries,
            verify=verify,
        )
        org_id = optional_id("org_id", org_id)
        self._transport = transport = self._transport_class(options)
        self.projects: ProjectsAPI[Mode] = ProjectsAPI(transport, org_id=org_id)
        self.builds: BuildsAPI[Mode] = BuildsAPI(transport)
        self.registry: RegistryAPI[Mode] = RegistryAPI(transport)
        self.buildkit: BuildKitAPI[Mode] = BuildKitAPI(transport)
        self.usage: UsageAPI[Mode] = UsageAPI(transport)
        self.organizations: OrganizationsAPI[Mode] = OrganizationsAPI(transport)


class DepotClient(_DepotClientBase[SyncMode]):
    __doc__ = f"""Blocking Depot API client: ``with DepotClient(token=...) as depot: depot.projects...``

    {_DepotClientBase.__doc__}"""

    _transport_class = ConnectTransport
    _transport: ConnectTransport

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> DepotClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncDepotClient(_DepotClientBase[AsyncMode]):
    __doc__ = f"""asyncio Depot API client: same groups and arguments as DepotClient, results are
    awaited: ``async with AsyncDepotClient(token=...) as depot: await depot.projects...``

    {_DepotClientBase.__doc__}"""

    _transport_class = AsyncConnectTransport
    _transport: AsyncConnectTransport

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncDepotClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
