"""A small, real Connect server on 127.0.0.1 (hypercorn in a thread) speaking just enough Depot.

It decodes what the client sends with the connect layer's codecs and envelope reader, records
every request (path, Authorization header, decoded messages), and answers from plain state:
``pages`` for the paged RPCs, ``pending_before_active`` / ``streams_without_active`` /
``endpoint_errors`` for GetEndpoint, ``health_error`` / ``health_errors_at_end`` and counters for
ReportHealth, a list for ReleaseEndpoint. Tests read that state through
``wait_for`` (a condition variable), never by sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import socket
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message

from airflow_provider_depot._proto.depot.build.v1 import build_pb2, registry_pb2
from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot._proto.depot.core.v1 import build_pb2 as core_build_pb2
from airflow_provider_depot._proto.depot.core.v1 import org_pb2, project_pb2, usage_pb2
from airflow_provider_depot.client import AsyncBuildKitSession, AsyncDepotClient, DepotClient
from airflow_provider_depot.connect import Code, ConnectError
from airflow_provider_depot.connect._codec import Codec, codec_for_content_type
from airflow_provider_depot.connect._envelope import EnvelopeReader, encode_envelope
from airflow_provider_depot.connect._method import MethodKind, MethodSpec, method_spec_from_descriptor

ORG_TOKEN = "org-token-9f8e7d6c5b4a"
BUILD_TOKEN = "build-token-SECRET-0a1b2c3d"
CA_PEM = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
CERT_PEM = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n"
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n"

_FILES = (project_pb2, usage_pb2, core_build_pb2, org_pb2, build_pb2, registry_pb2, buildkit_pb2)
SPECS: dict[str, MethodSpec] = {
    spec.path: spec
    for module in _FILES
    for service in module.DESCRIPTOR.services_by_name.values()
    for spec in (method_spec_from_descriptor(service, name) for name in service.methods_by_name)
}
# path -> the repeated field of the response that a page fills
PAGED_FIELDS = {
    "/depot.build.v1.RegistryService/ListImages": "images",
    "/depot.build.v1.BuildService/GetBuildSteps": "build_steps",
    "/depot.build.v1.BuildService/GetBuildStepLogs": "logs",
    "/depot.core.v1.BuildService/ListBuilds": "builds",
    "/depot.core.v1.UsageService/ListProjectUsage": "usage",
    "/depot.core.v1.ProjectService/ListProjects": "projects",
}


@dataclass
class Seen:
    path: str
    authorization: str | None
    messages: list[Message] = field(default_factory=list)


class FakeDepot:
    """The server's state; every mutation happens under ``cond`` and wakes waiters."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.reset()

    def reset(self) -> None:
        with self.cond:
            self.requests: list[Seen] = []
            self.pages: dict[str, list[Message]] = {}  # path -> all items, served 2 per page
            self.repeat_token: str | None = None  # when set, every page points to this token
            self.replies: dict[str, Message | ConnectError] = {}
            self.pending_before_active = 2
            self.streams_without_active = 0  # GetEndpoint streams that end after the pendings
            self.endpoint_errors: list[ConnectError] = []  # the next streams fail so after the pendings
            self.endpoint_active = True  # False: GetEndpoint stays pending until the client gives up
            self.endpoint_tls = True  # False: an active reply without certificates (plain TCP)
            self.health: list[buildkit_pb2.ReportHealthRequest] = []
            self.health_streams_closed = 0  # ReportHealth streams answered OK
            self.health_stream_sizes: list[int] = []  # reports each ended stream carried
            self.health_streams_open = self.health_open_max = 0
            self.health_error: ConnectError | None = None  # fail each ReportHealth stream with it
            # The next streams are read to their end, then fail so: what a client behind a
            # buffering proxy sees (the reply is the first thing it hears of the stream).
            self.health_errors_at_end: list[ConnectError] = []
            self.released: list[buildkit_pb2.ReleaseEndpointRequest] = []

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        with self.cond:
            if not self.cond.wait_for(predicate, timeout):
                raise AssertionError(f"server state never satisfied {predicate.__code__.co_qualname}")

    def paths(self) -> list[str]:
        with self.cond:
            return [seen.path for seen in self.requests]

    def _record(self, seen: Seen) -> None:
        with self.cond:
            self.requests.append(seen)
            self.cond.notify_all()

    def _update(self, change: Callable[[], None]) -> None:
        with self.cond:
            change()
            self.cond.notify_all()

    # ---- RPC behaviour ----
    def unary(self, spec: MethodSpec, request: Message) -> Message:
        reply = self.replies.get(spec.path)
        if isinstance(reply, ConnectError):
            raise reply
        if reply is not None:
            return reply
        if spec.path in PAGED_FIELDS:
            return self._page(spec, request)
        if isinstance(request, buildkit_pb2.ReleaseEndpointRequest):
            self._update(lambda: self.released.append(request))
        return spec.output()

    def _page(self, spec: MethodSpec, request: Message) -> Message:
        if self.repeat_token and self.paths().count(spec.path) > 20:  # a client without a loop guard
            raise ConnectError(Code.RESOURCE_EXHAUSTED, "the client keeps following a repeated token")
        items = self.pages.get(spec.path, [])
        token_in = request.page_token  # type: ignore[attr-defined]
        start = int(token_in) if token_in.isdigit() else 0
        size = request.page_size or 2  # type: ignore[attr-defined]
        end = start + size
        token_out = self.repeat_token or (str(end) if end < len(items) else "")
        return spec.output(**{PAGED_FIELDS[spec.path]: items[start:end], "next_page_token": token_out})

    async def get_endpoint(self, request: Message) -> AsyncIterator[Message]:
        with self.cond:
            ends_early = self.streams_without_active > 0
            self.streams_without_active -= ends_early
            pendings, active, tls = self.pending_before_active, self.endpoint_active, self.endpoint_tls
            error = self.endpoint_errors.pop(0) if self.endpoint_errors else None
        for _ in range(pendings):
            await asyncio.sleep(0.01)
            yield buildkit_pb2.GetEndpointResponse(pending={})
        if error is not None:
            raise error
        for _ in range(0 if active or ends_early else 200):  # "booting" for 10 s at most
            await asyncio.sleep(0.05)
            yield buildkit_pb2.GetEndpointResponse(pending={})
        if not ends_early:
            certs = {
                "cert": {"cert": {"cert": CERT_PEM}, "key": {"key": KEY_PEM}},
                "ca_cert": {"cert": CA_PEM},
            }
            active_reply = {"endpoint": "tcp://127.0.0.1:7777", "server_name": "buildkit.depot.test"}
            yield buildkit_pb2.GetEndpointResponse(active={**active_reply, **(certs if tls else {})})

    async def report_health(self, requests: AsyncIterator[Message]) -> Message:
        with self.cond:
            self.health_streams_open += 1
            self.health_open_max = max(self.health_open_max, self.health_streams_open)
            at_end = self.health_errors_at_end.pop(0) if self.health_errors_at_end else None
        size = 0
        try:
            async for request in requests:
                size += 1
                if at_end is None:
                    self._update(lambda r=request: self.health.append(r))  # type: ignore[misc]
                if self.health_error is not None:
                    raise self.health_error
            if at_end is not None:
                raise at_end
            self._update(lambda: setattr(self, "health_streams_closed", self.health_streams_closed + 1))
            return buildkit_pb2.ReportHealthResponse()
        finally:
            self._update(lambda: self._health_stream_ended(size))

    def _health_stream_ended(self, size: int) -> None:
        self.health_streams_open -= 1
        self.health_stream_sizes.append(size)


def _error_body(error: ConnectError) -> bytes:
    return json.dumps(error.to_json()).encode()


class ConnectApp:
    """ASGI app routing ``POST /pkg.Service/Method`` to FakeDepot."""

    def __init__(self, depot: FakeDepot) -> None:
        self.depot = depot

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()  # lifespan.startup
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            await send({"type": "lifespan.shutdown.complete"})
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        spec = SPECS.get(scope["path"])
        codec = codec_for_content_type(headers.get("content-type", ""))
        if spec is None or codec is None or scope["method"] != "POST":
            await self._send_error(send, ConnectError(Code.UNIMPLEMENTED, "no such method"))
            return
        seen = Seen(scope["path"], headers.get("authorization"))
        self.depot._record(seen)
        if spec.kind is MethodKind.UNARY:
            request = codec.decode(await _read_all(receive), spec.input)
            seen.messages.append(request)
            try:
                reply = self.depot.unary(spec, request)
            except ConnectError as error:
                await self._send_error(send, error)
                return
            await _start(send, 200, codec.unary_content_type)
            await send({"type": "http.response.body", "body": codec.encode(reply)})
            return
        await _start(send, 200, codec.stream_content_type)
        end: dict[str, Any] = {}
        try:
            if spec.kind is MethodKind.SERVER_STREAM:
                (request,) = _decode_all(await _read_all(receive), spec, codec)
                seen.messages.append(request)
                async for reply in self.depot.get_endpoint(request):
                    await send(
                        {"type": "http.response.body", "body": _frame(codec, reply), "more_body": True}
                    )
            else:
                reply = await self.depot.report_health(_stream_requests(receive, spec, codec, seen))
                await send({"type": "http.response.body", "body": _frame(codec, reply), "more_body": True})
        except ConnectError as error:
            end = {"error": error.to_json()}
        body = encode_envelope(json.dumps(end).encode(), end_stream=True)
        await send({"type": "http.response.body", "body": body})

    async def _send_error(self, send: Any, error: ConnectError) -> None:
        await _start(send, error.code.http_status, "application/json")
        await send({"type": "http.response.body", "body": _error_body(error)})


def _frame(codec: Codec, message: Message) -> bytes:
    return encode_envelope(codec.encode(message))


async def _start(send: Any, status: int, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode())],
        }
    )


async def _read_all(receive: Any) -> bytes:
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if not event.get("more_body"):
            return body


def _decode_all(data: bytes, spec: MethodSpec, codec: Codec) -> list[Message]:
    return [
        codec.decode(env.payload, spec.input) for env in EnvelopeReader().feed(data) if not env.end_stream
    ]


async def _stream_requests(
    receive: Any, spec: MethodSpec, codec: Codec, seen: Seen
) -> AsyncIterator[Message]:
    reader = EnvelopeReader()
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            return
        for env in reader.feed(event.get("body", b"")):
            if not env.end_stream:
                message = codec.decode(env.payload, spec.input)
                seen.messages.append(message)
                yield message
        if not event.get("more_body"):
            return


class ServerThread:
    """hypercorn serving ``app`` on a pre-bound 127.0.0.1 socket, in a daemon thread."""

    def __init__(self, app: ConnectApp) -> None:
        from hypercorn.config import Config

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._config = Config()
        self._config.bind = [f"fd://{sock.detach()}"]
        self._config.accesslog = None
        self._config.errorlog = None
        self._app = app
        self._started = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        from hypercorn.asyncio import serve

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._started.set()
        await serve(self._app, self._config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@dataclass
class Front:
    """One of the two clients, with helpers that let a single async test body drive either."""

    client: DepotClient | AsyncDepotClient
    is_async: bool

    async def call(self, value: Any) -> Any:
        return await value if inspect.isawaitable(value) else value

    async def collect(self, items: Any) -> list[Any]:
        if hasattr(items, "__aiter__"):
            return [item async for item in items]
        return list(items)

    @contextlib.asynccontextmanager
    async def session(self, **kwargs: Any) -> AsyncIterator[Any]:
        session = self.client.buildkit.session(**kwargs)
        if isinstance(session, AsyncBuildKitSession):
            async with session:
                yield session
        else:
            with session:
                yield session


async def wait_for(depot: FakeDepot, predicate: Callable[[], bool]) -> None:
    """Wait (without blocking the event loop) until the server's state satisfies ``predicate``."""
    await asyncio.to_thread(depot.wait_for, predicate)


async def eventually(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll client-side state (which notifies nobody) until ``predicate`` holds."""
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never satisfied {predicate.__code__.co_qualname}")
