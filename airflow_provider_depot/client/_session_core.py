"""A BuildKit session without I/O, shared by the sync and the async front (``_buildkit_session``).

The fronts only move messages and sleep: they open the streams and the call this module names,
hand back each reply and each way a stream ended, and wait as long as it says. Everything else
is here: the requests, the endpoint, when a GetEndpoint stream is reopened and after how long
(``EndpointWait``), how long a ReportHealth stream lives and when the next one opens
(``HealthCadence``; what counts as confirmed is ``_health``), what is released on the way out
and what is dropped with it (``SessionCore``).

The build token is kept out of every repr, log record and exception message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2 as pb
from airflow_provider_depot.connect import Code, ConnectError
from airflow_provider_depot.connect._retry import RETRYABLE_CODES

from ._credentials import BuildKitCredentials, remove_credentials, write_credentials
from ._health import HealthMonitor
from ._operations import checked, rpc_spec
from ._platforms import platform_name

logger = logging.getLogger("airflow_provider_depot.client")

_SERVICE = pb.DESCRIPTOR.services_by_name["BuildKitService"]
GET_ENDPOINT = rpc_spec(_SERVICE, "get_endpoint", pb.GetEndpointResponse)
REPORT_HEALTH = rpc_spec(_SERVICE, "report_health", pb.ReportHealthResponse)
RELEASE_ENDPOINT = rpc_spec(_SERVICE, "release_endpoint", pb.ReleaseEndpointResponse)

RELEASE_TIMEOUT = 30.0  # seconds for ReleaseEndpoint (and for the health stream to close) on the way out
_REOPEN_DELAYS = (0.5, 1.0, 2.0, 5.0)  # pauses before reopening a stream, the last one repeats
# The most reports one ReportHealth stream carries, so that however large ``health_warn_after``
# is, a reply (the only confirmation) comes every few intervals.
MAX_REPORTS_PER_STREAM = 4


def reopen_delay(attempt: int) -> float:
    """The pause before the ``attempt``-th reopening in a row (0: the first)."""
    return _REOPEN_DELAYS[min(attempt, len(_REOPEN_DELAYS) - 1)]


class EndpointTimeoutError(ConnectError, TimeoutError):
    """No ``active`` endpoint within the session's ``timeout``: GetEndpoint's ``deadline_exceeded``.

    A ConnectError (code, ``rpc``) so that it names the RPC and the code like any failed call,
    and a TimeoutError as it always was.
    """

    def __init__(self, message: str, rpc: str = GET_ENDPOINT.rpc) -> None:
        super().__init__(Code.DEADLINE_EXCEEDED, message, rpc=rpc)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.rpc))


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


class EndpointWait:
    """Waiting for ``active``: GetEndpoint streams, one after another, within the session's ``timeout``.

    Asking again for the same build and platform is harmless, so a stream that ends before
    ``active`` is reopened, whether it ended cleanly (a proxy may cut a long wait) or failed in
    a way worth another try (``unavailable``, which a reset or a proxy's 502 also is, or
    ``resource_exhausted``, after its Retry-After). Any other code fails at once.
    """

    def __init__(self, params: SessionParams) -> None:
        self._params = params
        self._deadline = time.monotonic() + params.timeout
        self._reopened = 0
        self.requested = False  # a GetEndpoint was sent: a builder may be held for us

    def open(self) -> tuple[pb.GetEndpointRequest, float]:
        """The next stream's request and deadline (what is left of the session's); from the
        moment it is sent a builder may be held (release it)."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise self.timeout_error()
        self.requested = True
        params = self._params
        return pb.GetEndpointRequest(build_id=params.build_id, platform=params.platform), remaining

    def reopen_after(self, error: ConnectError | None) -> float:
        """Seconds to wait before the next stream, the last one having ended without ``active``
        (``error`` None: cleanly). Raises instead when no other stream may follow: an
        EndpointTimeoutError once the time is up (or a deadline passed), else ``error``."""
        if error is not None and error.code is Code.DEADLINE_EXCEEDED:
            raise self.timeout_error() from error
        if error is not None and error.code not in RETRYABLE_CODES:
            raise error
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise self.timeout_error() from error
        delay = reopen_delay(self._reopened)
        if error is not None and error.retry_after is not None:
            if error.retry_after >= remaining:
                raise error
            delay = max(delay, error.retry_after)
        self._reopened += 1
        if error is None:
            logger.info("GetEndpoint stream for %s ended before active; reopening", self._params.label)
        else:
            logger.warning("GetEndpoint for %s failed (%s); reopening", self._params.label, error)
        return min(delay, remaining)

    def timeout_error(self) -> EndpointTimeoutError:
        return EndpointTimeoutError(
            f"Depot builder for {self._params.label} not active within {self._params.timeout:g} s"
        )


class HealthCadence:
    """ReportHealth streams, one at a time, each closed after a bounded number of reports.

    A client stream's only acknowledgement is the reply that ends it (see ``_health``), so a
    stream carries ``reports`` reports, ``health_interval`` apart, and closes after the last:
    at most 4 (``MAX_REPORTS_PER_STREAM``) and never more than ``health_warn_after / 4`` worth
    of intervals (``health_warn_after >= 4 x health_interval`` lets one always fit). The next
    stream opens when the next report is due after a clean close (the cadence never changes),
    after the backoff after a failure. A healthy session's newest confirmed report is then at
    most ``health_warn_after / 4`` plus a round trip old. Against Depot (5 minutes without
    reports remove a builder) the client's defaults, a report every 5 s as the official clients
    send them and 60 s to the alarm, make a stream of 3 reports every 15 s. A stream's
    deadline, ``health_warn_after / 2``, bounds a reply that never comes.
    """

    def __init__(
        self, params: SessionParams, monitor: HealthMonitor, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.request = pb.ReportHealthRequest(build_id=params.build_id, platform=params.platform)
        self.interval = params.health_interval
        fitting = int(params.health_warn_after / (4 * params.health_interval))
        self.reports = max(1, min(MAX_REPORTS_PER_STREAM, fitting))
        self.timeout = params.health_warn_after / 2
        self._monitor = monitor
        self._clock = clock
        self._room = 0
        self._failures = 0
        self._last_write = 0.0

    def open(self) -> float:
        """A stream is opening: its deadline in seconds."""
        self._room = self.reports
        return self.timeout

    def wrote(self) -> bool:
        """One report went out; True while the open stream has room for another (else it closes now)."""
        self._monitor.written()
        self._last_write = self._clock()
        self._room -= 1
        return self._room > 0

    def ended(self, error: BaseException | None) -> float:
        """The open stream is over (``error`` None: the server answered OK); seconds to wait
        before the next one."""
        self._monitor.stream_ended(error)
        if error is None:
            self._failures = 0
            return max(0.0, self._last_write + self.interval - self._clock())
        self._failures += 1
        return reopen_delay(self._failures - 1)


class SessionCore:
    """What the sync and async sessions share: the state the block reads, and every decision."""

    def __init__(self, params: SessionParams) -> None:
        self._params = params
        self._endpoint: BuildKitEndpoint | None = None
        self._credentials: BuildKitCredentials | None = None
        self._health = HealthMonitor(label=params.label, warn_after=params.health_warn_after)
        self._cadence = HealthCadence(params, self._health)
        self._wait: EndpointWait | None = None
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
        return self._health.last_written_at

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
    def _begin(self) -> EndpointWait:
        """Entering: the wait for ``active`` starts now (a session is entered once)."""
        if self._wait is not None:
            raise RuntimeError("a BuildKit session can be entered only once; open a new one")
        self._wait = EndpointWait(self._params)
        return self._wait

    def _accept(self, message: object) -> bool:
        """Take one GetEndpoint reply; True once it is ``active``."""
        reply = checked(pb.GetEndpointResponse, message)
        if reply.WhichOneof("connection") != "active":
            logger.debug("Depot builder for %s pending", self._params.label)
            return False
        self._endpoint = BuildKitEndpoint.from_active(reply.active)
        logger.info("Depot builder for %s active at %s", self._params.label, self._endpoint.endpoint)
        return True

    def _health_left_open(self) -> None:
        logger.warning("Depot health report stream for %s did not close", self._params.label)

    @contextlib.contextmanager
    def _releasing(self) -> Iterator[pb.ReleaseEndpointRequest | None]:
        """Around the front's ReleaseEndpoint call, the last step however the session ends.

        Yields the request, or None when no builder can be held for us (nothing to call).
        A failed release is logged, never raised, so it cannot hide the block's own outcome.
        Either way the builder's address, its key and the credential files are dropped.
        """
        params = self._params
        try:
            if self._wait is None or not self._wait.requested or self._released:
                yield None
                return
            try:
                yield pb.ReleaseEndpointRequest(build_id=params.build_id, platform=params.platform)
            except Exception as error:
                logger.error("ReleaseEndpoint for %s failed: %s", params.label, error)
            else:
                self._released = True
                logger.info("Depot builder for %s released", params.label)
        finally:
            self._endpoint = None
            if self._credentials is not None:
                remove_credentials(self._credentials.directory)
                self._credentials = None
