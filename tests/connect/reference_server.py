"""A Connect server we did not write, serving Depot RPCs on 127.0.0.1 for the transport tests.

The Connect part is the official Python implementation (``connectrpc``) with its
google.protobuf codecs, served by hypercorn (HTTP/1.1 and h2c prior knowledge on one port).
Handlers follow *scripts* the tests register per key (a project id, a build id, ...): reply,
fail with a code and details, sleep. A thin ASGI shim in front serves *raw* responses under
``/raw/<name>/...`` for what no Connect server would send (an HTML 502, a truncated stream).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectrpc.code import Code as ServerCode
from connectrpc.compat import google_protobuf_codecs
from connectrpc.errors import ConnectError as ServerError
from connectrpc.errors import ErrorDetail as ServerDetail
from connectrpc.method import IdempotencyLevel, MethodInfo, StreamType
from connectrpc.request import RequestContext
from connectrpc.server import ConnectASGIApplication, Endpoint
from google.protobuf.message import Message
from hypercorn.asyncio import serve
from hypercorn.config import Config
from protobuf.wkt import Any as AnyPb

from airflow_provider_depot._proto.depot.build.v1 import build_pb2
from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot._proto.depot.core.v1 import project_pb2

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# -- scripts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fail:
    """Raise a Connect error: ``code`` is its wire name; ``headers`` go on the response.

    A detail is a message, or ``(type name, bytes)`` for a type the client cannot know.
    """

    code: str
    message: str = ""
    details: Sequence[Message | tuple[str, bytes]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sleep:
    """Sleep, then go on with the next step (or the default reply)."""

    seconds: float


@dataclass(frozen=True)
class Messages:
    """For a server stream: send ``count`` messages, then end with ``then`` (None: success)."""

    count: int
    then: Fail | None = None


Step = Fail | Sleep | Messages


class Scripts:
    """Per-key steps, consumed one per attempt; every attempt and its request headers are kept."""

    def __init__(self) -> None:
        self._steps: dict[str, list[Step]] = {}
        self.attempts: Counter[str] = Counter()
        self.headers: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
        self.timeouts_ms: defaultdict[str, list[float | None]] = defaultdict(list)
        self.received: defaultdict[str, list[Message]] = defaultdict(list)

    def set(self, key: str, *steps: Step) -> None:
        self._steps[key] = list(steps)

    def begin(self, key: str, ctx: RequestContext[Any, Any]) -> list[Step]:
        """Record an attempt; the steps that apply to it (a Sleep may precede the outcome)."""
        self.attempts[key] += 1
        self.headers[key].append({k: ctx.request_headers[k] for k in ctx.request_headers})
        self.timeouts_ms[key].append(ctx.timeout_ms)
        pending = self._steps.get(key, [])
        taken: list[Step] = []
        while pending:
            step = pending.pop(0)
            taken.append(step)
            if not isinstance(step, Sleep):
                break
        return taken


def _error(fail: Fail, ctx: RequestContext[Any, Any]) -> ServerError:
    for name, value in fail.headers.items():
        ctx.response_headers[name] = value
    details = []
    for detail in fail.details:
        name, value = (
            detail if isinstance(detail, tuple) else (detail.DESCRIPTOR.full_name, detail.SerializeToString())
        )
        details.append(ServerDetail(AnyPb(type_url=f"type.googleapis.com/{name}", value=value)))
    return ServerError(ServerCode(fail.code), fail.message, details)


async def _outcome(steps: list[Step], ctx: RequestContext[Any, Any]) -> Messages | None:
    """Play the steps: sleep, raise, or return the stream plan (None: the default reply)."""
    for step in steps:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
        elif isinstance(step, Fail):
            raise _error(step, ctx)
        else:
            return step
    return None


# -- the Connect services -----------------------------------------------------------------


def _method(
    service: str, name: str, cls_in: type[Message], cls_out: type[Message], kind: StreamType
) -> MethodInfo:
    return MethodInfo(
        name=name,
        service_name=service,
        input=cls_in,
        output=cls_out,
        idempotency_level=IdempotencyLevel.UNKNOWN,
        stream_type=kind,
    )


class _Service(ConnectASGIApplication[Any]):
    def __init__(self, service: str, endpoints: Mapping[str, Endpoint[Any, Any]]) -> None:
        self._service_path = f"/{service}"
        super().__init__(service=object(), endpoints=lambda _: endpoints, codecs=google_protobuf_codecs())

    @property
    def path(self) -> str:
        return self._service_path


def _project_service(scripts: Scripts) -> _Service:
    name = "depot.core.v1.ProjectService"

    async def get_project(req: project_pb2.GetProjectRequest, ctx: Any) -> project_pb2.GetProjectResponse:
        await _outcome(scripts.begin(req.project_id, ctx), ctx)
        return project_pb2.GetProjectResponse(
            project=project_pb2.Project(project_id=req.project_id, name=f"name of {req.project_id}")
        )

    async def list_projects(
        req: project_pb2.ListProjectsRequest, ctx: Any
    ) -> project_pb2.ListProjectsResponse:
        await _outcome(scripts.begin(req.region_id, ctx), ctx)
        return project_pb2.ListProjectsResponse(
            projects=[project_pb2.Project(project_id="p1", region_id=req.region_id)]
        )

    async def create_project(
        req: project_pb2.CreateProjectRequest, ctx: Any
    ) -> project_pb2.CreateProjectResponse:
        await _outcome(scripts.begin(req.name, ctx), ctx)
        return project_pb2.CreateProjectResponse(project=project_pb2.Project(project_id="new", name=req.name))

    async def create_token(req: project_pb2.CreateTokenRequest, ctx: Any) -> project_pb2.CreateTokenResponse:
        await _outcome(scripts.begin(req.description, ctx), ctx)
        return project_pb2.CreateTokenResponse(token_id="t1", secret="s3cr3t")

    u = StreamType.UNARY
    p = project_pb2
    return _Service(
        name,
        {
            f"/{name}/GetProject": Endpoint.unary(
                _method(name, "GetProject", p.GetProjectRequest, p.GetProjectResponse, u), get_project
            ),
            f"/{name}/ListProjects": Endpoint.unary(
                _method(name, "ListProjects", p.ListProjectsRequest, p.ListProjectsResponse, u), list_projects
            ),
            f"/{name}/CreateProject": Endpoint.unary(
                _method(name, "CreateProject", p.CreateProjectRequest, p.CreateProjectResponse, u),
                create_project,
            ),
            f"/{name}/CreateToken": Endpoint.unary(
                _method(name, "CreateToken", p.CreateTokenRequest, p.CreateTokenResponse, u), create_token
            ),
        },
    )


def _build_service(scripts: Scripts) -> _Service:
    name = "depot.build.v1.BuildService"

    async def create_build(req: build_pb2.CreateBuildRequest, ctx: Any) -> build_pb2.CreateBuildResponse:
        await _outcome(scripts.begin(req.project_id, ctx), ctx)
        return build_pb2.CreateBuildResponse(build_id="b1", build_token="build-secret")

    method = _method(
        name, "CreateBuild", build_pb2.CreateBuildRequest, build_pb2.CreateBuildResponse, StreamType.UNARY
    )
    return _Service(name, {f"/{name}/CreateBuild": Endpoint.unary(method, create_build)})


def _buildkit_service(scripts: Scripts) -> _Service:
    name = "depot.buildkit.v1.BuildKitService"
    b = buildkit_pb2

    async def get_endpoint(req: b.GetEndpointRequest, ctx: Any) -> AsyncIterator[b.GetEndpointResponse]:
        plan = await _outcome(scripts.begin(req.build_id, ctx), ctx) or Messages(1)
        for i in range(plan.count):
            if i < plan.count - 1 or plan.then is not None:
                yield b.GetEndpointResponse(pending=b.GetEndpointResponse.PendingConnection())
            else:
                yield b.GetEndpointResponse(
                    active=b.GetEndpointResponse.ActiveConnection(endpoint=f"tcp://{req.build_id}:443")
                )
        if plan.then is not None:
            raise _error(plan.then, ctx)

    async def report_health(
        requests: AsyncIterator[b.ReportHealthRequest], ctx: Any
    ) -> b.ReportHealthResponse:
        key = None
        async for request in requests:
            key = key or request.build_id
            scripts.received[key].append(request)
        await _outcome(scripts.begin(key or "", ctx), ctx)
        return b.ReportHealthResponse()

    return _Service(
        name,
        {
            f"/{name}/GetEndpoint": Endpoint.server_stream(
                _method(
                    name, "GetEndpoint", b.GetEndpointRequest, b.GetEndpointResponse, StreamType.SERVER_STREAM
                ),
                get_endpoint,
            ),
            f"/{name}/ReportHealth": Endpoint.client_stream(
                _method(
                    name,
                    "ReportHealth",
                    b.ReportHealthRequest,
                    b.ReportHealthResponse,
                    StreamType.CLIENT_STREAM,
                ),
                report_health,
            ),
        },
    )


# -- raw responses ------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A literal HTTP response. ``abort_after`` raises once the body is sent: the server then
    breaks the connection (HTTP/1.1) or resets the stream (HTTP/2) instead of ending cleanly.
    ``hang`` never answers (until the client goes away)."""

    status: int = 200
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    abort_after: bool = False
    hang: bool = False


class Aborted(Exception):
    """Raised by the shim to make hypercorn cut a response short."""


RawFactory = Callable[[dict[str, str]], Raw]


class _Front:
    """Routes ``/raw/<name>/...`` to a registered Raw, everything else to the Connect services."""

    def __init__(self, services: Sequence[_Service]) -> None:
        self.raw: dict[str, RawFactory] = {}
        self.raw_requests: Counter[str] = Counter()
        self.raw_headers: dict[str, dict[str, str]] = {}
        self.response_headers: list[tuple[str, dict[str, str]]] = []
        self.http_versions: list[tuple[str, str]] = []
        self._services = {service.path: service for service in services}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path: str = scope["path"]
        self.http_versions.append((path, scope["http_version"]))
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if path.startswith("/raw/"):
            name = path.split("/")[2]
            self.raw_requests[name] += 1
            self.raw_headers[name] = headers
            await _drain(receive)
            await self._send_raw(self.raw[name](headers), receive, send)
            return
        service = self._services.get("/" + path.strip("/").split("/")[0])
        if service is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return

        async def recording_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                sent = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
                self.response_headers.append((path, sent))
            await send(message)

        await service(scope, receive, recording_send)

    @staticmethod
    async def _send_raw(raw: Raw, receive: Receive, send: Send) -> None:
        if raw.hang:
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        headers = [(k.encode(), v.encode()) for k, v in raw.headers]
        await send({"type": "http.response.start", "status": raw.status, "headers": headers})
        await send({"type": "http.response.body", "body": raw.body, "more_body": raw.abort_after})
        if raw.abort_after:
            await asyncio.sleep(0.05)  # let the bytes leave before the connection is cut
            raise Aborted("cut the response short")


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


# -- the server ---------------------------------------------------------------------------


class ReferenceServer:
    """hypercorn in a background thread on a free 127.0.0.1 port.

    ``keep_alive_timeout`` also bounds how long an HTTP/2 stream that hypercorn abandons (the
    app raised mid-response) stays open before the connection is closed under it.
    """

    def __init__(self, *, keep_alive_timeout: float = 5.0, tls: tuple[str, str] | None = None) -> None:
        """``tls``: paths of a certificate and its key; the server then speaks https (ALPN h2, http/1.1)."""
        self._keep_alive_timeout = keep_alive_timeout
        self._tls = tls
        self.scripts = Scripts()
        self.front = _Front(
            [_project_service(self.scripts), _build_service(self.scripts), _buildkit_service(self.scripts)]
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{sock.getsockname()[1]}"
        self._fd = sock.detach()  # hypercorn owns (and closes) the listening socket
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="connect-reference-server", daemon=True)

    def _run(self) -> None:
        config = Config()
        config.bind = [f"fd://{self._fd}"]
        config.graceful_timeout = 1.0
        config.keep_alive_timeout = self._keep_alive_timeout
        if self._tls is not None:
            config.certfile, config.keyfile = self._tls
        # Hypercorn's default of 1000 drops the 1001st HTTP/2 request of a connection.
        config.keep_alive_max_requests = 1_000_000
        config.accesslog = None
        config.errorlog = None
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._started.set)
        self._loop.run_until_complete(serve(self.front, config, shutdown_trigger=self._stop.wait))

    def start(self) -> ReferenceServer:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the reference server did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()

    def raw(self, factory: RawFactory | Raw) -> str:
        """Register a raw response; the base URL that reaches it."""
        name = uuid.uuid4().hex
        self.front.raw[name] = factory if callable(factory) else (lambda _headers: factory)
        return f"{self.url}/raw/{name}"

    def raw_requests(self, base_url: str) -> int:
        return self.front.raw_requests[base_url.rsplit("/", 1)[1]]


def new_key() -> str:
    """A key no other test uses (the server lives for the whole session)."""
    return uuid.uuid4().hex[:12]
