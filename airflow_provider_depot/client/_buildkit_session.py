"""A BuildKit builder for one build and platform, held for the length of a ``with`` block.

Entering: GetEndpoint (server stream, build token) is read through ``pending`` until ``active``,
within ``timeout`` seconds; a stream that ends before ``active``, cleanly or with a failure
worth another try, is reopened after a short pause, any other failure is raised, and the time
running out raises EndpointTimeoutError (GetEndpoint's ``deadline_exceeded``). While inside:
ReportHealth client streams, one at a time and each closed after a few reports so that the
server's reply confirms them, send ``{build_id, platform}`` every ``health_interval`` seconds
from a background thread (sync) or task (async). Leaving, however it happens (return,
exception, KeyboardInterrupt, cancellation): the health stream is closed, ReleaseEndpoint is
called, the credential files are removed. A failed release is logged, never raised, so it
cannot hide the block's own outcome.

Only I/O lives here; every decision is the shared core's (``_session_core``, ``_health``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from types import TracebackType

from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2 as pb
from airflow_provider_depot.connect import AsyncConnectTransport, ConnectError, ConnectTransport

from ._session_core import (
    GET_ENDPOINT,
    RELEASE_ENDPOINT,
    RELEASE_TIMEOUT,
    REPORT_HEALTH,
    BuildKitEndpoint,
    EndpointTimeoutError,
    EndpointWait,
    SessionCore,
    SessionParams,
)

__all__ = ["AsyncBuildKitSession", "BuildKitEndpoint", "BuildKitSession", "EndpointTimeoutError"]

_BACKSTOP_GRACE = 5.0  # seconds past ``timeout`` before the async session cancels its own wait


class BuildKitSession(SessionCore):
    """``with client.buildkit.session(...) as s:`` (health reports from a daemon thread)."""

    def __init__(self, transport: ConnectTransport, params: SessionParams) -> None:
        super().__init__(params)
        self._transport = transport
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BuildKitSession:
        wait = self._begin()
        try:
            self._acquire(wait)
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

    def _acquire(self, wait: EndpointWait) -> None:
        while True:
            request, timeout = wait.open()
            error: ConnectError | None = None
            try:
                with self._transport.server_stream(
                    GET_ENDPOINT, request, token=self._params.build_token, timeout=timeout
                ) as replies:
                    for reply in replies:
                        if self._accept(reply):
                            return
            except ConnectError as exc:
                error = exc
            time.sleep(wait.reopen_after(error))

    def _beats(self) -> Iterator[pb.ReportHealthRequest]:
        cadence = self._cadence
        while True:
            yield cadence.request
            if not cadence.wrote() or self._stop.wait(cadence.interval):
                return

    def _report_health(self) -> None:
        while not self._stop.is_set():
            timeout = self._cadence.open()
            error: Exception | None = None
            try:
                self._transport.client_stream(
                    REPORT_HEALTH, self._beats(), token=self._params.build_token, timeout=timeout
                )
            except Exception as exc:  # the thread must outlive any failure; it is logged
                error = exc
            self._stop.wait(self._cadence.ended(error))

    def _shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=RELEASE_TIMEOUT)
            if self._thread.is_alive():
                self._health_left_open()
        with self._releasing() as request:
            if request is not None:
                self._transport.unary(
                    RELEASE_ENDPOINT, request, token=self._params.build_token, timeout=RELEASE_TIMEOUT
                )


class AsyncBuildKitSession(SessionCore):
    """``async with aclient.buildkit.session(...) as s:`` (health reports from a task)."""

    def __init__(self, transport: AsyncConnectTransport, params: SessionParams) -> None:
        super().__init__(params)
        self._transport = transport
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._cleanup: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AsyncBuildKitSession:
        wait = self._begin()
        try:
            try:
                # The transport's deadline ends the wait; this is only a backstop. Cancelling an
                # httpx stream while it closes can wedge the connection pool (httpcore 1.0).
                await asyncio.wait_for(self._acquire(wait), self._params.timeout + _BACKSTOP_GRACE)
            except asyncio.TimeoutError as error:
                if isinstance(error, EndpointTimeoutError):
                    raise
                raise wait.timeout_error() from None
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

    async def _acquire(self, wait: EndpointWait) -> None:
        while True:
            request, timeout = wait.open()
            error: ConnectError | None = None
            try:
                async with self._transport.server_stream(
                    GET_ENDPOINT, request, token=self._params.build_token, timeout=timeout
                ) as replies:
                    async for reply in replies:
                        if self._accept(reply):
                            return
            except ConnectError as exc:
                error = exc
            await asyncio.sleep(wait.reopen_after(error))

    async def _stopped_within(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the session to end; True if it has."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    async def _beats(self) -> AsyncIterator[pb.ReportHealthRequest]:
        cadence = self._cadence
        while True:
            yield cadence.request
            if not cadence.wrote() or await self._stopped_within(cadence.interval):
                return

    async def _report_health(self) -> None:
        while not self._stop.is_set():
            timeout = self._cadence.open()
            error: Exception | None = None
            try:
                await self._transport.client_stream(
                    REPORT_HEALTH, self._beats(), token=self._params.build_token, timeout=timeout
                )
            except Exception as exc:  # the task must outlive any failure; it is logged
                error = exc
            await self._stopped_within(self._cadence.ended(error))

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
                self._health_left_open()
        with self._releasing() as request:
            if request is not None:
                await self._transport.unary(
                    RELEASE_ENDPOINT, request, token=self._params.build_token, timeout=RELEASE_TIMEOUT
                )
