"""One request and its reply, when the reply may end before the request body has been read.

A Connect server refuses some calls without reading them (a fault rule, a bad header, an
unknown path, a handler that fails on the first message of a client stream), and the client of
a stream may go on sending for hours. The reply goes out at once, and whatever is left of the
request body is read and thrown away by a task of the request, which ends when the body ends or
the client goes away. How the reply ends depends on the protocol, because of hypercorn:

- HTTP/1.1: hypercorn closes the connection when a reply ends while the request body is still
  arriving, so the reply's bytes go out at once and its end waits for the end of the request
  body. That end puts no bytes on the wire when the reply has a Content-Length (the client has
  the whole reply at once) and the last chunk when it is chunked.
- HTTP/2: the reply ends at once (END_STREAM) and hypercorn then forgets the stream; the task
  reads until that moment, because hypercorn queues only a few request events per stream and
  stops reading the whole connection while that queue is full. Data the client sends after
  that is dropped by the server (``_hosting``).
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from ._asgi import Event, Receive, Scope, Send


class Exchange:
    """``receive`` and ``send`` for one HTTP request, to use as an ``async with`` block around it.

    The block's end waits for the task reading the rest of the body (it is already done on
    HTTP/1.1 and about to be on HTTP/2); when the block ends with an exception it cancels it.
    """

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self._end_waits_for_body = scope.get("http_version") != "2"
        self._body_open = True  # until the body's last part or a disconnect is received
        self._disconnected = False
        self._discard: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Exchange:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        task = self._discard
        if task is None:
            return
        if exc_type is not None:
            task.cancel()
        await asyncio.wait({task})

    async def receive(self) -> Event:
        event = await self._receive()
        self._note(event)
        return event

    async def send(self, event: Event) -> None:
        last = event["type"] == "http.response.body" and not event.get("more_body", False)
        if not last or not self._body_open:
            await self._send(event)
            return
        self._discard = asyncio.create_task(self._discard_body())
        if not self._end_waits_for_body:
            await self._send(event)
            return
        if event.get("body"):
            await self._send({**event, "more_body": True})
        await self._discard
        if not self._disconnected:  # hypercorn has closed the stream of a client that went away
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    def _note(self, event: Event) -> None:
        if event["type"] == "http.disconnect":
            self._body_open = False
            self._disconnected = True
        elif not event.get("more_body", False):
            self._body_open = False

    async def _discard_body(self) -> None:
        while self._body_open:
            self._note(await self._receive())
