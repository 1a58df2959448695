"""Serving an ASGI app with hypercorn on a socket we own: HTTP/1.1 and h2c on one port.

Hypercorn's public ``serve()`` gives an app no handle on its TCP connection, and a fault that
drops the connection needs one (an app that returns without replying gets a 500 from hypercorn).
So the accept loop here is our own: each connection's writer goes into a context variable before
hypercorn's ``TCPServer`` takes the connection over, and the app's tasks, which inherit that
context, can abort it (``abort_current_connection``). Everything else, HTTP/1.1 keep-alive, h2c
with prior knowledge, the upgrade from HTTP/1.1, is hypercorn's own code, but for one HTTP/2 fix
(``_H2Protocol``).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import socket
from collections.abc import Callable
from typing import Any

import h2.events
import hypercorn.protocol
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.protocol.h2 import H2Protocol

from airflow_provider_depot.connect._log_hygiene import silence_header_debug_logs

from ._asgi import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

_CONNECTION: contextvars.ContextVar[asyncio.StreamWriter | None] = contextvars.ContextVar(
    "emulator_connection", default=None
)
# Clients keep connections idle between health reports (5 s for the CLI, 30 s for others);
# hypercorn's default 5 s idle timeout would race them.
_KEEP_ALIVE_TIMEOUT = 75.0
_GRACEFUL_TIMEOUT = 2.0


class _H2Protocol(H2Protocol):
    """Hypercorn's HTTP/2 protocol, without its failure on request data after a stream's reply.

    A server may answer before the request is complete (RFC 9113, section 8.1), as the Connect app
    does when it refuses a client stream. Hypercorn forgets a stream once its reply has ended, and
    the stream's next DATA frame then ends the whole connection (a ``KeyError``). Here that data
    is dropped and acknowledged, which gives the client its flow-control window back: the stream
    goes on until the client ends it, and the connection's other streams keep working. Only
    connections that ``serve`` accepted get this; hypercorn servers of other code in the process
    see hypercorn's own behaviour.
    """

    async def _handle_events(self, events: list[h2.events.Event]) -> None:
        if _CONNECTION.get() is None:
            await super()._handle_events(events)
            return
        # One event at a time: while one is handled the app runs, and may end a stream's reply.
        for event in events:
            if isinstance(event, h2.events.DataReceived) and event.stream_id not in self.streams:
                self.connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                await self._flush()
            else:
                await super()._handle_events([event])


def _use_h2_protocol() -> None:
    """Make hypercorn speak HTTP/2 with ``_H2Protocol``: it has no option for the class, and looks
    it up in ``hypercorn.protocol`` each time a connection turns out to be HTTP/2."""
    hypercorn.protocol.H2Protocol = _H2Protocol  # type: ignore[attr-defined]


def abort_current_connection() -> bool:
    """Drop the TCP connection of the request being served (no reply); False outside a request."""
    writer = _CONNECTION.get()
    if writer is None:
        return False
    writer.transport.abort()
    return True


def server_config() -> Config:
    silence_header_debug_logs()  # hypercorn decodes request headers with hpack too
    config = Config()
    config.accesslog = None
    config.errorlog = logging.getLogger("airflow_provider_depot.emulator.http")
    config.keep_alive_timeout = _KEEP_ALIVE_TIMEOUT
    config.keep_alive_max_requests = 2**62
    config.graceful_timeout = _GRACEFUL_TIMEOUT
    config.backlog = 1024
    config.server_names = []
    return config


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0 = a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say
    # they are TCP, and without that every reply written in two parts stalls ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve(
    app: ASGIApp,
    sock: socket.socket,
    shutdown: asyncio.Event,
    *,
    config: Config | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Serve ``app`` on the listening ``sock`` until ``shutdown`` is set, then close gracefully.

    ``on_ready()`` is called once connections are being accepted.
    """
    config = config or server_config()
    _use_h2_protocol()
    loop = asyncio.get_running_loop()
    calls: set[asyncio.Task[Any]] = set()
    wrapped = ASGIWrapper(_tracked(app, calls))  # type: ignore[arg-type]  # hypercorn's own framework type
    context = WorkerContext(None)
    connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            connections[task] = writer
            task.add_done_callback(lambda done: connections.pop(done, None))
        _CONNECTION.set(writer)
        await TCPServer(wrapped, loop, config, context, {}, reader, writer)

    server = await asyncio.start_server(on_connection, sock=sock, backlog=config.backlog)
    if on_ready is not None:
        on_ready()
    try:
        await shutdown.wait()
    finally:
        await context.terminated.set()
        server.close()
        await _close_connections(connections, calls, config.graceful_timeout)
        await server.wait_closed()


def _tracked(app: ASGIApp, calls: set[asyncio.Task[Any]]) -> ASGIApp:
    """``app``, keeping the task of each call in ``calls`` while it runs."""

    async def tracked(scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None  # hypercorn runs every call in a task of its own
        calls.add(task)
        try:
            await app(scope, receive, send)
        finally:
            calls.discard(task)

    return tracked


async def _close_connections(
    connections: dict[asyncio.Task[Any], asyncio.StreamWriter], calls: set[asyncio.Task[Any]], grace: float
) -> None:
    """Wait for the connections to close once hypercorn knows the server is terminating.

    Hypercorn closes a connection once it has no call in flight. Calls still running after
    ``grace`` are cancelled; hypercorn then ends their streams (a 500 when no reply had begun)
    and closes their connections, HTTP/2 ones with a GOAWAY. A connection still open ``grace``
    later, one whose client reads none of what is left to send, is aborted.

    A live connection's task is not cancelled: hypercorn cannot take that on HTTP/2, whose calls
    then wait for ever for the cancelled task that writes their replies. A connection whose
    socket is already gone (dropped by a fault rule, aborted above) is another matter: a call of
    it that hypercorn left waiting for that writer ends only when the connection's task is
    cancelled, so those are cancelled, and so is, at the very end, whatever still hangs on.
    """
    if not connections:
        return
    _cancel_dead(connections)
    _, pending = await asyncio.wait(set(connections), timeout=grace)
    if not pending:
        return
    for call in set(calls):
        call.cancel()
    _, pending = await asyncio.wait(pending, timeout=grace)
    if not pending:
        return
    for task in pending:
        connections[task].transport.abort()
    _cancel_dead(connections)
    _, pending = await asyncio.wait(pending, timeout=grace)
    if not pending:
        return
    for task in pending:
        task.cancel()
    _, pending = await asyncio.wait(pending, timeout=grace)
    if pending:
        log.warning("%d connection(s) of the emulator did not close; left to the event loop", len(pending))


def _cancel_dead(connections: dict[asyncio.Task[Any], asyncio.StreamWriter]) -> None:
    """Cancel the tasks of the connections whose socket is closed or closing."""
    for task, writer in list(connections.items()):
        if writer.transport.is_closing():
            task.cancel()
