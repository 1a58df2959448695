"""BuildKit endpoint leases: a build's builder per platform, from pending to active to released.

A lease starts ``pending`` for the configured number of replies (a builder booting), then opens
through the ``EndpointBackend``: an address, a server name and fresh mTLS material. Health
reports keep it alive; ReleaseEndpoint or FinishBuild end it (``released``); the reaper ends the
leases of builds that went without health for ``health_timeout`` (``expired``, and the build fails
as "expired"). Expired leases are the *leaked* ones: their client never gave them back.

Backends: ``ProxyBackend`` fronts a real BuildKit (``--buildkit-endpoint``) with a per-lease
proxy, mutual TLS by default, so only the holder of that lease's client certificate reaches it,
and reads BuildKit's progress off it; ``PlaceholderBackend`` (no BuildKit configured) hands out
an address that does not resolve, with real certificates, for clients that only exercise the API.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import functools
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_provider_depot._proto.moby.buildkit.v1 import status_pb2
from airflow_provider_depot.connect._codes import Code
from airflow_provider_depot.connect._errors import ConnectError

from .._certs import BuildCredentials, issue_build_credentials, server_ssl_context
from .._mtls_proxy import ByteProxy, Streams, parse_tcp_endpoint
from ._builds import expire_stale, mark_started, record_health
from ._model import Build
from ._state import DepotState
from ._status_tap import StatusTap, open_tapped_connection

log = logging.getLogger(__name__)

PLATFORMS = {0: "linux/amd64", 1: "linux/amd64", 2: "linux/arm64"}
StatusReport = Callable[[str, status_pb2.StatusResponse], None]
PLACEHOLDER_ENDPOINT = "tcp://buildkit.depot-emulator.invalid:443"


def platform_name(value: int) -> str:
    name = PLATFORMS.get(value)
    if name is None:
        raise ConnectError(Code.INVALID_ARGUMENT, f"unknown platform {value}")
    return name


@dataclass
class OpenedEndpoint:
    endpoint: str
    server_name: str
    credentials: BuildCredentials | None
    close: Callable[[], Coroutine[Any, Any, None]] | None = None


class EndpointBackend(Protocol):
    async def open(self, build_id: str, platform: str) -> OpenedEndpoint: ...


def _server_name(build_id: str, platform: str) -> str:
    return f"{build_id}-{platform.rsplit('/', 1)[-1]}.buildkit.depot-emulator.local"


class PlaceholderBackend:
    async def open(self, build_id: str, platform: str) -> OpenedEndpoint:
        name = _server_name(build_id, platform)
        return OpenedEndpoint(PLACEHOLDER_ENDPOINT, name, issue_build_credentials(name))


class ProxyBackend:
    """Each lease gets its own proxy in front of the configured BuildKit: mutual TLS with the
    lease's fresh credentials (``mtls``), or plain TCP (the CLI then dials without TLS). Each
    proxied connection is tapped for BuildKit's progress (``_status_tap``), which goes to
    ``on_status(build_id, status)``."""

    def __init__(self, endpoint: str, on_status: StatusReport, *, mtls: bool = True) -> None:
        self.host, self.port = parse_tcp_endpoint(endpoint, parameter="buildkit_endpoint")
        self.on_status = on_status
        self.mtls = mtls

    async def open(self, build_id: str, platform: str) -> OpenedEndpoint:
        name = _server_name(build_id, platform)
        credentials = issue_build_credentials(name) if self.mtls else None
        sink = functools.partial(self.on_status, build_id)

        def open_upstream() -> Awaitable[Streams]:
            return open_tapped_connection(self.host, self.port, StatusTap(sink))

        proxy = ByteProxy(open_upstream, ssl_context=server_ssl_context(credentials) if credentials else None)
        await proxy.start()
        return OpenedEndpoint(proxy.endpoint, name, credentials, proxy.stop)


@dataclass
class Lease:
    build_id: str
    platform: str
    created_at: datetime.datetime
    pending_left: int
    state: str = "pending"  # pending | active | released | expired
    opened: OpenedEndpoint | None = None
    acquired_at: datetime.datetime | None = None
    last_health: datetime.datetime | None = None
    released_at: datetime.datetime | None = None
    released_by: str | None = None
    replies: int = 0
    _opening: asyncio.Future[OpenedEndpoint] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """What the admin endpoint shows (never the private keys)."""
        return {
            "build_id": self.build_id,
            "platform": self.platform,
            "state": self.state,
            "endpoint": self.opened.endpoint if self.opened else None,
            "server_name": self.opened.server_name if self.opened else None,
            "created_at": _iso(self.created_at),
            "acquired_at": _iso(self.acquired_at),
            "last_health": _iso(self.last_health),
            "released_at": _iso(self.released_at),
            "released_by": self.released_by,
            "replies": self.replies,
        }


class EndpointBroker:
    """The leases of all builds. Coroutines run on the server loop; ``reap``/``release_build``
    may also run on another thread (the admin handle), closing endpoints through that loop."""

    def __init__(
        self,
        state: DepotState,
        backend: EndpointBackend,
        *,
        pending: int = 1,
        pending_interval: float = 0.5,
        health_timeout: float = 300.0,
    ) -> None:
        if pending < 0:
            raise ValueError(f"pending must not be negative, got {pending}")
        if health_timeout <= 0:
            raise ValueError(f"health_timeout must be positive, got {health_timeout}")
        self.state = state
        self.backend = backend
        self.pending = pending
        self.pending_interval = pending_interval
        self.health_timeout = health_timeout
        self._live: dict[tuple[str, str], Lease] = {}
        self._ended: list[Lease] = []
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: set[concurrent.futures.Future[None]] = set()

    def bind_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop

    # -- acquiring -----------------------------------------------------------------------------

    def _lease(self, build: Build, platform: str) -> Lease:
        if build.finished:
            raise ConnectError(
                Code.FAILED_PRECONDITION, f"build {build.build_id} has ended ({build.status.value})"
            )
        key = (build.build_id, platform)
        with self._lock:
            lease = self._live.get(key)
            if lease is None:
                lease = Lease(build.build_id, platform, self.state.now(), self.pending)
                self._live[key] = lease
            lease.last_health = self.state.now()
        record_health(self.state, build)
        return lease

    async def poll(self, build: Build, platform: str) -> Lease:
        """One GetBuildKitConnection reply: the lease still pending, or active."""
        lease = self._lease(build, platform)
        lease.replies += 1
        with self._lock:
            if lease.state == "pending" and lease.pending_left > 0 and lease._opening is None:
                lease.pending_left -= 1
                return lease
        await self._activate(build, lease)
        return lease

    async def stream(self, build: Build, platform: str) -> AsyncIterator[Lease]:
        """GetEndpoint's replies: ``pending`` as configured (a fresh builder only), then active."""
        lease = self._lease(build, platform)
        while True:
            with self._lock:
                waiting = lease.state == "pending" and lease.pending_left > 0 and lease._opening is None
                if waiting:
                    lease.pending_left -= 1
            if not waiting:
                break
            lease.replies += 1
            yield lease
            await asyncio.sleep(self.pending_interval)
        await self._activate(build, lease)
        lease.replies += 1
        yield lease

    async def _activate(self, build: Build, lease: Lease) -> None:
        with self._lock:
            if lease.state == "active":
                return
            if lease.state != "pending":
                raise ConnectError(
                    Code.FAILED_PRECONDITION, f"the endpoint of build {lease.build_id} was {lease.state}"
                )
            opening = lease._opening
            starter = opening is None
            if starter:
                opening = lease._opening = asyncio.get_running_loop().create_future()
        assert opening is not None
        if not starter:
            await asyncio.shield(opening)
            return
        try:
            opened = await self.backend.open(lease.build_id, lease.platform)
        except BaseException as exc:
            opening.set_exception(ConnectError(Code.UNAVAILABLE, f"no builder: {exc}"))
            opening.exception()  # retrieved: waiters re-raise it, nobody else must log it
            with self._lock:
                lease._opening = None
            raise ConnectError(Code.UNAVAILABLE, f"the builder could not be started: {exc}") from exc
        with self._lock:
            lease.opened = opened
            lease._opening = None
            if lease.state != "pending":  # released or expired while opening
                self._close(opened)
                opening.set_result(opened)
                raise ConnectError(
                    Code.FAILED_PRECONDITION, f"the endpoint of build {lease.build_id} was {lease.state}"
                )
            lease.state = "active"
            lease.acquired_at = lease.last_health = self.state.now()
        opening.set_result(opened)
        mark_started(self.state, build)

    # -- health and release --------------------------------------------------------------------

    def health(self, build: Build, platform: str | None) -> None:
        now = self.state.now()
        record_health(self.state, build)
        with self._lock:
            for (build_id, lease_platform), lease in self._live.items():
                if build_id == build.build_id and platform in (None, lease_platform):
                    lease.last_health = now

    def release(self, build_id: str, platform: str | None, *, by: str, state: str = "released") -> int:
        """End the build's live leases (of one platform, or all); returns how many ended."""
        with self._lock:
            keys = [k for k in self._live if k[0] == build_id and platform in (None, k[1])]
            now = self.state.now()
            for key in keys:
                lease = self._live.pop(key)
                lease.state = state
                lease.released_at = now
                lease.released_by = by
                self._ended.append(lease)
                if lease.opened is not None:
                    self._close(lease.opened)
        return len(keys)

    def reap(self) -> list[str]:
        """Expire builds without health for ``health_timeout``; returns their ids."""
        expired = expire_stale(self.state, self.health_timeout)
        for build in expired:
            self.release(build.build_id, None, by="reaper", state="expired")
        if expired:
            log.info("expired %d build(s) without health for %.0f s", len(expired), self.health_timeout)
        return [b.build_id for b in expired]

    def _close(self, opened: OpenedEndpoint) -> None:
        """Schedule ``opened.close()`` on the server loop (from that loop's thread or any other)."""
        close = opened.close
        if close is None:
            return
        loop = self._loop
        if loop is None or loop.is_closed():
            log.warning("an endpoint could not be closed: the server loop is not running")
            return
        future = asyncio.run_coroutine_threadsafe(close(), loop)
        self._closing.add(future)
        future.add_done_callback(self._closing.discard)

    async def close_all(self) -> None:
        """At shutdown: close every live endpoint (leases stay recorded as they were)."""
        with self._lock:
            live = [lease.opened for lease in self._live.values() if lease.opened is not None]
        for opened in live:
            if opened.close is not None:
                await opened.close()
        if self._closing:
            await asyncio.gather(
                *(asyncio.wrap_future(f) for f in list(self._closing)), return_exceptions=True
            )

    # -- views ---------------------------------------------------------------------------------

    def live(self) -> list[Lease]:
        with self._lock:
            return list(self._live.values())

    def ended(self) -> list[Lease]:
        with self._lock:
            return list(self._ended)

    def report(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {
                "live": [lease.to_dict() for lease in self._live.values()],
                "leaked": [lease.to_dict() for lease in self._ended if lease.state == "expired"],
                "released": [lease.to_dict() for lease in self._ended if lease.state == "released"],
            }


def _iso(when: datetime.datetime | None) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")
