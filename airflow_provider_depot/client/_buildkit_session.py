"""A BuildKit builder for one build and platform, held for the length of a ``with`` block.

Entering: GetEndpoint (server stream, build token) is read through ``pending`` until ``active``,
within ``timeout`` seconds. A stream that ends without ``active`` is reopened after a short pause
(a proxy may cut a long wait; asking again for the same build and platform is harmless).
While inside: one ReportHealth client stream sends ``{build_id, platform}`` every
``health_interval`` seconds from a background thread (sync) or task (async); if it breaks it is
reopened. Leaving, however it happens (return, exception, KeyboardInterrupt, cancellation):
the health stream is closed, ReleaseEndpoint is called, the credential files are removed. A
failed release is logged, never raised, so it cannot hide the block's own outcome.

The build token is kept out of every repr, log record and exception message.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from types import TracebackType

from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2 as pb
from airflow_provider_depot.connect import AsyncConnectTransport, Code, ConnectError, ConnectTransport

from ._credentials import BuildKitCredentials, remove_credentials, write_credentials
from ._health import HealthMonitor
from ._operations import checked, rpc_spec
from ._platforms import platform_name

logger = logging.getLogger("airflow_provider_depot.client")

_SERVICE = pb.DESCRIPTOR.services_by_name["BuildKitService"]
_GET_ENDPOINT = rpc_spec(_SERVICE, "get_endpoint", pb.GetEndpointResponse)
_REPORT_HEALTH = rpc_spec(_SERVICE, "report_health", pb.ReportHealthResponse)
_RELEASE_ENDPOINT = rpc_spec(_SERVICE, "release_endpoint", pb.ReleaseEndpointResponse)

RELEASE_TIMEOUT = 30.0  # seconds for ReleaseEndpoint on the way out
# A per-call deadline overrides the client's default one, which would otherwise cut the
# long-lived health stream; a stream that reaches this one is simply reopened.
HEALTH_STREAM_TIMEOUT = 24 * 3600.0
_BACKSTOP_GRACE = 5.0  # seconds past ``timeout`` before the async session cancels its own wait
_REOPEN_DELAYS = (0.5, 1.0, 2.0, 5.0)  # pauses before reopening a stream, the last one repeats


class EndpointTimeoutError(TimeoutError):
    """No ``active`` endpoint within the session's ``timeout``."""


@dataclass(frozen=True)
class SessionParams:
    """Validated arguments of ``client.buildkit.session(...)``."""

    build_id: str
    build_token: str = field(repr=False)
    platform: pb.Platform
    health_interval: float
    health_warn_after: float
    timeout: float

    @property
    def label(self) -> str:
        return f"build {self.build_id} {platform_name(self.platform)}"


@dataclass(frozen=True)
class BuildKitEndpoint:
    """An ``active`` GetEndpoint reply. Empty PEMs mean plain TCP (no mutual TLS)."""

    endpoint: str
    server_name: str
    ca_cert: str = field(repr=False)
    cert: str = field(repr=False)
    key: str = field(repr=False)

    @property
    def host_port(self) -> str:
        """``endpoint`` without the ``tcp://`` scheme, as a BuildKit client dials it."""
        return self.endpoint.removeprefix("tcp://")

    @property
    def uses_tls(self) -> bool:
        return bool(self.ca_cert and self.cert and self.key)

    @classmethod
    def from_active(cls, active: pb.GetEndpointResponse.ActiveConnection) -> BuildKitEndpoint:
        return cls(
            active.endpoint,
            active.server_name,
            active.ca_cert.cert,
            active.cert.cert.cert,
            active.cert.key.key,
        )


class _SessionState:
    """What the sync and async sessions share: requests, endpoint, credentials, health state."""

    def __init__(self, params: SessionParams) -> None:
        self._params = params
        self._endpoint: BuildKitEndpoint | None = None
        self._credentials: BuildKitCredentials | None = None
        self._health = HealthMonitor(label=params.label, warn_after=params.health_warn_after)
        self._entered = False
        self._requested = False  # GetEndpoint was sent: a builder may be held for us
        self._released = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._params.label} {self._endpoint!r}>"

    # ---- what the block reads ----
    @property
    def build_id(self) -> str:
        return self._params.build_id

    @property
    def platform(self) -> str:
        """``"linux/amd64"`` or ``"linux/arm64"``."""
        return platform_name(self._params.platform)

    @property
    def connection(self) -> BuildKitEndpoint:
        if self._endpoint is None:
            raise RuntimeError("the BuildKit session is not active (only inside its with block)")
        return self._endpoint

    @property
    def endpoint(self) -> str:
        """``tcp://host:port`` as Depot sent it."""
        return self.connection.endpoint

    @property
    def host_port(self) -> str:
        return self.connection.host_port

    @property
    def server_name(self) -> str:
        return self.connection.server_name

    @property
    def ca_cert(self) -> str:
        return self.connection.ca_cert

    @property
    def cert(self) -> str:
        return self.connection.cert

    @property
    def key(self) -> str:
        """The client private key (PEM): a secret, like the build token."""
        return self.connection.key

    @property
    def health_ok(self) -> bool:
        """False once no health report was confirmed for ``health_warn_after`` seconds (see _health)."""
        return self._health.ok

    @property
    def last_health_at(self) -> dt.datetime | None:
        """When the newest health report was written (aware UTC), None before the first."""
        return self._health.last_sent_at

    @property
    def health_reports_sent(self) -> int:
        return self._health.reports_written

    @property
    def released(self) -> bool:
        """ReleaseEndpoint succeeded."""
        return self._released

    def write_credentials(self) -> BuildKitCredentials:
        """Write ca/cert/key PEMs to a private directory (0700, files 0600) removed on exit.

        Idempotent. Raises RuntimeError for a plain-TCP endpoint (no certificates).
        """
        if self._credentials is None:
            connection = self.connection
            if not connection.uses_tls:
                raise RuntimeError(f"the endpoint {connection.endpoint} offers no TLS credentials")
            self._credentials = write_credentials(
                ca_cert=connection.ca_cert, cert=connection.cert, key=connection.key
            )
        return self._credentials

    # ---- the steps both fronts run ----
    def _enter_once(self) -> None:
        if self._entered:
            raise RuntimeError("a BuildKit session can be entered only once; open a new one")
        self._entered = True

    def _endpoint_request(self) -> pb.GetEndpointRequest:
        """The GetEndpoint request; from the moment it is sent a builder may be held (release it)."""
        self._requested = True
        return pb.GetEndpointRequest(build_id=self._params.build_id, platform=self._params.platform)

    def _health_request(self) -> pb.ReportHealthRequest:
        return pb.ReportHealthRequest(build_id=self._params.build_id, platform=self._params.platform)

    def _release_request(self) -> pb.ReleaseEndpointRequest:
        return pb.ReleaseEndpointRequest(build_id=self._params.build_id, platform=self._params.platform)

    def _accept(self, message: object) -> bool:
        """Take one GetEndpoint reply; True once it is ``active``."""
        reply = checked(pb.GetEndpointResponse, message)
        if reply.WhichOneof("connection") != "active":
            logger.debug("Depot builder for %s pending", self._params.label)
            return False
        self._endpoint = BuildKitEndpoint.from_active(reply.active)
        logger.info("Depot builder for %s active at %s", self._params.label, self._endpoint.endpoint)
        return True

    def _timeout_error(self) -> EndpointTimeoutError:
        return EndpointTimeoutError(
            f"Depot builder for {self._params.label} not active within {self._params.timeout:g} s"
        )

    def _released_ok(self) -> None:
        self._released = True
        logger.info("Depot builder for %s released", self._params.label)

    def _release_failed(self, error: BaseException) -> None:
        logger.error("ReleaseEndpoint for %s failed: %s", self._params.label, error)

    def _forget(self) -> None:
        """Drop what belonged to the released builder: its address, its key, the files."""
        self._endpoint = None
        if self._credentials is not None:
            remove_credentials(self._credentials.directory)
            self._credentials = None


def _reopen_delay(attempt: int) -> float:
    return _REOPEN_DELAYS[min(attempt, len(_REOPEN_DELAYS) - 1)]


class BuildKitSession(_SessionState):
    """``with client.buildkit.session(...) as s:`` (health reports from a daemon thread)."""

    def __init__(self, transport: ConnectTransport, params: SessionParams) -> None:
        super().__init__(params)
        self._transport = transport
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BuildKitSession:
        self._enter_once()
        try:
            self._acquire()
            self._thread = threading.Thread(
                target=self._report_health, name=f"depot-health-{self._params.build_id}", daemon=True
            )
            self._thread.start()
        except BaseException:
            self._shutdown()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._shutdown()

    def _acquire(self) -> None:
        deadline = time.monotonic() + self._params.timeout
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout_error()
            try:
                with self._transport.server_stream(
                    _GET_ENDPOINT, self._endpoint_request(), token=self._params.build_token, timeout=remaining
                ) as replies:
                    for reply in replies:
                        if self._accept(reply):
                            return
                        if time.monotonic() >= deadline:
                            raise self._timeout_error()
            except ConnectError as error:
                if error.code is Code.DEADLINE_EXCEEDED:
                    raise self._timeout_error() from error
                raise
            logger.info("GetEndpoint stream for %s ended before active; reopening", self._params.label)
            time.sleep(min(_reopen_delay(attempt), max(deadline - time.monotonic(), 0)))
            attempt += 1

    def _beats(self) -> Iterator[pb.ReportHealthRequest]:
        request = self._health_request()
        while True:
            yield request
            self._health.sent()
            if self._stop.wait(self._params.health_interval):
                return

    def _report_health(self) -> None:
        failures = 0
        while not self._stop.is_set():
            error: Exception | None = None
            try:
                self._transport.client_stream(
                    _REPORT_HEALTH,
                    self._beats(),
                    token=self._params.build_token,
                    timeout=HEALTH_STREAM_TIMEOUT,
                )
            except Exception as exc:  # the thread must outlive any failure; it is logged
                error = exc
            self._health.stream_ended(error)
            failures = failures + 1 if error else 0
            if self._stop.wait(_reopen_delay(failures)):
                return

    def _shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=RELEASE_TIMEOUT)
            if self._thread.is_alive():
                logger.warning("Depot health report stream for %s did not close", self._params.label)
        try:
            if self._requested and not self._released:
                try:
                    self._transport.unary(
                        _RELEASE_ENDPOINT,
                        self._release_request(),
                        token=self._params.build_token,
                        timeout=RELEASE_TIMEOUT,
                    )
                    self._released_ok()
                except Exception as error:
                    self._release_failed(error)
        finally:
            self._forget()


class AsyncBuildKitSession(_SessionState):
    """``async with aclient.buildkit.session(...) as s:`` (health reports from a task)."""

    def __init__(self, transport: AsyncConnectTransport, params: SessionParams) -> None:
        super().__init__(params)
        self._transport = transport
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._cleanup: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AsyncBuildKitSession:
        self._enter_once()
        try:
            try:
                # The transport's deadline ends the wait; this is only a backstop. Cancelling an
                # httpx stream while it closes can wedge the connection pool (httpcore 1.0).
                await asyncio.wait_for(self._acquire(), self._params.timeout + _BACKSTOP_GRACE)
            except asyncio.TimeoutError as error:
                if isinstance(error, EndpointTimeoutError):
                    raise
                raise self._timeout_error() from None
            self._task = asyncio.create_task(
                self._report_health(), name=f"depot-health-{self._params.build_id}"
            )
        except BaseException:
            await self._shutdown_shielded()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._shutdown_shielded()

    async def _acquire(self) -> None:
        deadline = time.monotonic() + self._params.timeout
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout_error()
            try:
                async with self._transport.server_stream(
                    _GET_ENDPOINT, self._endpoint_request(), token=self._params.build_token, timeout=remaining
                ) as replies:
                    async for reply in replies:
                        if self._accept(reply):
                            return
            except ConnectError as error:
                if error.code is Code.DEADLINE_EXCEEDED:
                    raise self._timeout_error() from error
                raise
            logger.info("GetEndpoint stream for %s ended before active; reopening", self._params.label)
            await asyncio.sleep(min(_reopen_delay(attempt), max(deadline - time.monotonic(), 0)))
            attempt += 1

    async def _beats(self) -> AsyncIterator[pb.ReportHealthRequest]:
        request = self._health_request()
        while True:
            yield request
            self._health.sent()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._params.health_interval)
            if self._stop.is_set():
                return

    async def _report_health(self) -> None:
        failures = 0
        while not self._stop.is_set():
            error: Exception | None = None
            try:
                await self._transport.client_stream(
                    _REPORT_HEALTH,
                    self._beats(),
                    token=self._params.build_token,
                    timeout=HEALTH_STREAM_TIMEOUT,
                )
            except Exception as exc:  # the task must outlive any failure; it is logged
                error = exc
            self._health.stream_ended(error)
            failures = failures + 1 if error else 0
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), _reopen_delay(failures))

    async def _shutdown_shielded(self) -> None:
        """Clean up even if the caller is cancelled again meanwhile (then it finishes in the background)."""
        if self._cleanup is None:
            self._cleanup = asyncio.ensure_future(self._shutdown())
        await asyncio.shield(self._cleanup)

    async def _shutdown(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, RELEASE_TIMEOUT)
            except asyncio.TimeoutError:
                logger.warning("Depot health report stream for %s did not close", self._params.label)
        try:
            if self._requested and not self._released:
                try:
                    await self._transport.unary(
                        _RELEASE_ENDPOINT,
                        self._release_request(),
                        token=self._params.build_token,
                        timeout=RELEASE_TIMEOUT,
                    )
                    self._released_ok()
                except Exception as error:
                    self._release_failed(error)
        finally:
            self._forget()
