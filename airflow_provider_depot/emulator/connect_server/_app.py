"""A Connect protocol server as an ASGI app: unary and streaming RPCs, proto and JSON codecs, gzip.

Routes are ``POST /{package}.{Service}/{Method}``; anything else is ``unimplemented`` (404) or
405. Requests may be gzip-compressed (``Content-Encoding`` for unary, ``Connect-Content-Encoding``
with per-envelope flags for streams); replies are gzip-compressed when the client offers it
(``Accept-Encoding`` / ``Connect-Accept-Encoding``) and the body is at least
``compress_min_bytes`` long. ``Connect-Timeout-Ms`` bounds the whole call: reading the body,
injected delays and the handler; it ends as ``deadline_exceeded``.

Streaming replies are HTTP 200 and end with an end-of-stream envelope carrying ``{}`` or
``{"error": ...}``. A server-streaming request carries exactly one message; a client stream is
read incrementally, so the handler sees each message as it arrives.

A reply may end before the request body has been read (a refused client stream is answered at
once, while its client is still sending); ``_exchange`` reads and drops the rest of the body.

Nothing here knows Depot: the ``identify`` hook classifies the caller from the request headers
(a label for the audit log, and a context for the handlers), the route handlers do the rest.
Fault rules (``_faults.py``) are acted out here because they are protocol misbehaviour.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import math
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

from google.protobuf.message import DecodeError, Message

from airflow_provider_depot.connect._codec import Codec, codec_for_content_type
from airflow_provider_depot.connect._codes import Code
from airflow_provider_depot.connect._envelope import EnvelopeError, EnvelopeReader, encode_envelope
from airflow_provider_depot.connect._errors import ConnectError
from airflow_provider_depot.connect._method import MethodKind

from ._asgi import (
    ASGIApp,
    BodyTooLarge,
    ClientDisconnected,
    Event,
    Headers,
    Receive,
    Scope,
    Send,
    header_map,
    read_body,
    send_response,
    serve_lifespan,
)
from ._audit import AuditLog
from ._call import ServerCall
from ._exchange import Exchange
from ._faults import FaultPlan, FaultRule
from ._routes import Route

log = logging.getLogger(__name__)

T = TypeVar("T")
_JSON = (b"content-type", b"application/json")
_MAX_TIMEOUT_DIGITS = 10
_DROPPED = 0  # the audit status of a call whose connection was dropped on purpose


class _Outcome:
    """What the audit log records about a finished call."""

    __slots__ = ("code", "fault", "recorded", "status")

    def __init__(self) -> None:
        self.code = "ok"
        self.status = 200
        self.fault: str | None = None
        self.recorded = False

    def failed(self, err: ConnectError, status: int) -> None:
        self.code = err.code.value
        self.status = status


class ConnectApp:
    """The ASGI app. ``mounts`` maps path prefixes (``/_emulator/``) to other ASGI apps.

    ``identify(headers)`` returns ``(token_kind, context)`` for the call; it must not fail.

    ``abort_connection()`` must drop the current call's TCP connection without a reply and return
    True (the server module provides it); drop faults need it.
    """

    def __init__(
        self,
        routes: Mapping[str, Route],
        *,
        identify: Callable[[Mapping[str, str]], tuple[str, object]],
        faults: FaultPlan,
        audit: AuditLog,
        clock_time: Callable[[], float],
        abort_connection: Callable[[], bool],
        mounts: Mapping[str, ASGIApp] | None = None,
        compress_min_bytes: int = 1024,
        max_body_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self._routes = dict(routes)
        self._identify = identify
        self._faults = faults
        self._audit = audit
        self._clock_time = clock_time
        self._abort_connection = abort_connection
        self._mounts = tuple((mounts or {}).items())
        self._compress_min = compress_min_bytes
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await serve_lifespan(receive, send)
            return
        if kind != "http":
            return
        async with Exchange(scope, receive, send) as exchange:
            await self._http(scope, exchange.receive, exchange.send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One HTTP request; a reply may end before the request body was read (``Exchange``)."""
        path: str = scope["path"]
        route = self._routes.get(path)
        if route is None:
            for prefix, app in self._mounts:
                if path.startswith(prefix):
                    await app(scope, receive, send)
                    return
            await self._not_found(scope, send)
            return
        if scope["method"] != "POST":
            err = ConnectError(Code.UNIMPLEMENTED, f"{scope['method']} is not supported; RPCs use POST")
            await _send_error(send, err, status=405, extra=[(b"allow", b"POST")])
            return
        started = time.perf_counter()
        call = ServerCall(route.spec, header_map(scope))
        call.token_kind, call.context = self._identify(call.headers)
        outcome = _Outcome()
        rule = self._faults.decide(call.procedure, call.rpc) if self._faults else None
        if rule is not None:
            outcome.fault = rule.id

        def record() -> None:
            if not outcome.recorded:
                outcome.recorded = True
                self._audit.record(
                    time=self._clock_time(),
                    procedure=call.procedure,
                    token_kind=call.token_kind,
                    code=outcome.code,
                    http_status=outcome.status,
                    fault=outcome.fault,
                    duration_ms=(time.perf_counter() - started) * 1000.0,
                )

        async def send_recorded(event: Event) -> None:
            # Record before the last byte goes out: a client that has its reply can read the log.
            if event["type"] == "http.response.body" and not event.get("more_body", False):
                record()
            await send(event)

        try:
            await self._serve(route, call, rule, receive, send_recorded, outcome)
        finally:
            record()

    async def _not_found(self, scope: Scope, send: Send) -> None:
        """An unknown path: ``unimplemented`` with 404, which the CLI prints as "404 Not Found"."""
        started = time.perf_counter()
        token_kind, _ = self._identify(header_map(scope))
        self._audit.record(
            time=self._clock_time(),
            procedure=scope["path"].lstrip("/"),
            token_kind=token_kind,
            code=Code.UNIMPLEMENTED.value,
            http_status=404,
            fault=None,
            duration_ms=(time.perf_counter() - started) * 1000.0,
        )
        await _send_error(send, ConnectError(Code.UNIMPLEMENTED, "404 Not Found"), status=404)

    async def _serve(
        self,
        route: Route,
        call: ServerCall,
        rule: FaultRule | None,
        receive: Receive,
        send: Send,
        outcome: _Outcome,
    ) -> None:
        content_type = call.headers.get("content-type", "")
        codec = codec_for_content_type(content_type)
        streaming = route.spec.kind is not MethodKind.UNARY
        expected = (codec.stream_content_type if streaming else codec.unary_content_type) if codec else None
        if codec is None or content_type.split(";", 1)[0].strip().lower() != expected:
            outcome.code, outcome.status = "unsupported_media_type", 415
            await send_response(send, 415, [(b"accept-post", _accepted_types(streaming))], b"")
            return
        try:
            deadline = _deadline(call.headers.get("connect-timeout-ms"))
        except ConnectError as err:
            await self._reply_error(send, err, streaming, codec, outcome)
            return
        if rule is not None:
            if rule.delay_ms:
                try:
                    await _within(deadline, asyncio.sleep(rule.delay_ms / 1000.0))
                except ConnectError as err:
                    await self._reply_error(send, err, streaming, codec, outcome)
                    return
            if await self._act_before(rule, send, streaming, codec, outcome):
                return
        if route.spec.kind is MethodKind.UNARY:
            await self._unary(route, call, codec, deadline, rule, receive, send, outcome)
        else:
            await self._stream(route, call, codec, deadline, rule, receive, send, outcome)

    async def _act_before(
        self, rule: FaultRule, send: Send, streaming: bool, codec: Codec, outcome: _Outcome
    ) -> bool:
        """Act out a fault that replaces the call; True when the call must not run."""
        if rule.action == "drop_before":
            self._drop(outcome)
            return True
        if rule.action == "error":
            err = ConnectError(rule.code, rule.message, retry_after=rule.retry_after)
            await self._reply_error(send, err, streaming, codec, outcome)
            return True
        if rule.action == "http":
            headers: Headers = [(b"content-type", rule.content_type.encode())]
            if rule.retry_after is not None:
                headers.append((b"retry-after", str(math.ceil(rule.retry_after)).encode()))
            outcome.code, outcome.status = "raw_http", rule.status
            await send_response(send, rule.status, headers, rule.body.encode())
            return True
        return False

    def _drop(self, outcome: _Outcome) -> None:
        outcome.code, outcome.status = "dropped", _DROPPED
        if not self._abort_connection():
            raise RuntimeError("this server cannot drop a connection on purpose")

    async def _reply_error(
        self, send: Send, err: ConnectError, streaming: bool, codec: Codec, outcome: _Outcome
    ) -> None:
        if streaming:
            outcome.failed(err, 200)
            headers = [*_stream_headers(codec, compress=False), *_retry_after(err)]
            await send_response(send, 200, headers, _end_stream(err))
        else:
            outcome.failed(err, err.code.http_status)
            await _send_error(send, err, status=err.code.http_status)

    # -- unary ---------------------------------------------------------------------------------

    async def _unary(
        self,
        route: Route,
        call: ServerCall,
        codec: Codec,
        deadline: float | None,
        rule: FaultRule | None,
        receive: Receive,
        send: Send,
        outcome: _Outcome,
    ) -> None:
        try:
            body = await _within(deadline, self._read_unary(receive, call.headers))
            request = _decode(codec, body, route.spec.input)
            if route.awaitable:
                response = await _within(deadline, route.handler(call, request))
            else:
                response = route.handler(call, request)
            if deadline is not None and asyncio.get_running_loop().time() > deadline:
                raise ConnectError(Code.DEADLINE_EXCEEDED, "the call's deadline passed")
            payload = codec.encode(response)
        except ConnectError as err:
            if rule is not None and rule.action == "drop_after":
                self._drop(outcome)
                return
            outcome.failed(err, err.code.http_status)
            await _send_error(send, err, status=err.code.http_status)
            return
        except ClientDisconnected:
            outcome.code, outcome.status = Code.CANCELED.value, 499
            return
        except Exception as exc:
            log.exception("%s failed", call.rpc)
            failure = _internal(exc)
            outcome.failed(failure, failure.code.http_status)
            await _send_error(send, failure, status=failure.code.http_status)
            return
        if rule is not None and rule.action == "drop_after":
            self._drop(outcome)
            return
        headers: Headers = [(b"content-type", codec.unary_content_type.encode())]
        if len(payload) >= self._compress_min and _accepts_gzip(call.headers.get("accept-encoding")):
            payload = gzip.compress(payload, compresslevel=5)
            headers.append((b"content-encoding", b"gzip"))
        if rule is not None and rule.action == "truncate":
            # No Content-Length: the body ends cleanly after half of the message.
            outcome.code = "truncated"
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send(
                {"type": "http.response.body", "body": payload[: len(payload) // 2], "more_body": False}
            )
            return
        await send_response(send, 200, headers, payload)

    async def _read_unary(self, receive: Receive, headers: Mapping[str, str]) -> bytes:
        try:
            body = await read_body(receive, self._max_body)
        except BodyTooLarge:
            raise ConnectError(
                Code.RESOURCE_EXHAUSTED, f"request body exceeds {self._max_body} bytes"
            ) from None
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding == "gzip":
            try:
                return gzip.decompress(body)
            except (OSError, EOFError) as exc:
                raise ConnectError(
                    Code.INVALID_ARGUMENT, f"cannot inflate the gzip request body: {exc}"
                ) from None
        if encoding not in ("", "identity"):
            raise ConnectError(
                Code.UNIMPLEMENTED, f"content-encoding {encoding!r} is not supported (gzip is)"
            )
        return body

    # -- streams -------------------------------------------------------------------------------

    async def _stream(
        self,
        route: Route,
        call: ServerCall,
        codec: Codec,
        deadline: float | None,
        rule: FaultRule | None,
        receive: Receive,
        send: Send,
        outcome: _Outcome,
    ) -> None:
        writer = _StreamWriter(send, codec, self._stream_compress(call.headers), self._compress_min, rule)
        compressed = _stream_compressed(call.headers)
        error: ConnectError | None = None
        try:
            _check_stream_encoding(call.headers)
            if route.spec.kind is MethodKind.SERVER_STREAM:
                whole = await self._server_stream(route, call, codec, deadline, receive, writer, compressed)
            else:
                whole = await self._client_stream(route, call, codec, deadline, receive, writer, compressed)
            if not whole:
                outcome.code = "truncated"
                return
        except ConnectError as err:
            error = err
        except ClientDisconnected:
            outcome.code, outcome.status = Code.CANCELED.value, 499
            return
        except Exception as exc:
            log.exception("%s failed", call.rpc)
            error = _internal(exc)
        await self._finish_stream(writer, error, rule, outcome)

    async def _server_stream(
        self,
        route: Route,
        call: ServerCall,
        codec: Codec,
        deadline: float | None,
        receive: Receive,
        writer: _StreamWriter,
        compressed: bool,
    ) -> bool:
        """Run a server-streaming handler; False when a truncate rule cut the reply."""
        request = await _within(
            deadline, self._read_single_envelope(receive, codec, route.spec.input, compressed)
        )
        stream = route.handler(call, request)
        try:
            while True:
                try:
                    message = await _within(deadline, stream.__anext__())
                except StopAsyncIteration:
                    return True
                if not await writer.message(message):
                    return False
        finally:
            await stream.aclose()

    async def _client_stream(
        self,
        route: Route,
        call: ServerCall,
        codec: Codec,
        deadline: float | None,
        receive: Receive,
        writer: _StreamWriter,
        compressed: bool,
    ) -> bool:
        """Run a client-streaming handler; False when a truncate rule cut the reply."""
        requests = _request_stream(receive, codec, route.spec.input, compressed)
        try:
            response = await _within(deadline, route.handler(call, requests))
        finally:
            await requests.aclose()
        return await writer.message(response)

    async def _finish_stream(
        self, writer: _StreamWriter, error: ConnectError | None, rule: FaultRule | None, outcome: _Outcome
    ) -> None:
        if error is not None:
            outcome.failed(error, 200)
        action = rule.action if rule is not None else None
        if action == "drop_after":
            self._drop(outcome)
        elif action == "truncate":
            outcome.code = "truncated"
            await writer.cut(_end_stream(error))
        elif action == "no_end_stream":
            outcome.code = "no_end_stream"
            await writer.close_without_end()
        else:
            await writer.end(error)

    def _stream_compress(self, headers: Mapping[str, str]) -> bool:
        return _accepts_gzip(headers.get("connect-accept-encoding"))

    async def _read_single_envelope(
        self, receive: Receive, codec: Codec, cls: type[Message], compressed: bool
    ) -> Message:
        try:
            body = await read_body(receive, self._max_body)
        except BodyTooLarge:
            raise ConnectError(
                Code.RESOURCE_EXHAUSTED, f"request body exceeds {self._max_body} bytes"
            ) from None
        reader = EnvelopeReader(max_message_bytes=self._max_body, compressed=compressed)
        try:
            envelopes = [e for e in reader.feed(body) if not e.end_stream]
        except EnvelopeError as exc:
            raise ConnectError(Code.INVALID_ARGUMENT, f"malformed request envelope: {exc}") from None
        if reader.pending or len(envelopes) != 1:
            raise ConnectError(
                Code.INVALID_ARGUMENT, "a server-streaming request carries exactly one enveloped message"
            )
        return _decode(codec, envelopes[0].payload, cls)


class _StreamWriter:
    """Writes envelopes of one streaming reply; the 200 headers go out with the first bytes.

    A ``truncate`` rule lets ``keep_messages`` whole envelopes through, then sends half of the
    next envelope (a message or the end-of-stream) and ends the body.
    """

    def __init__(
        self, send: Send, codec: Codec, compress: bool, compress_min: int, rule: FaultRule | None
    ) -> None:
        self._send = send
        self._codec = codec
        self._compress = compress
        self._compress_min = compress_min
        self._started = False
        self._sent = 0
        self._truncate_after = rule.keep_messages if rule is not None and rule.action == "truncate" else None

    async def _start(self) -> None:
        if not self._started:
            self._started = True
            headers = _stream_headers(self._codec, compress=self._compress)
            await self._send({"type": "http.response.start", "status": 200, "headers": headers})

    def _frame(self, payload: bytes, *, end_stream: bool = False) -> bytes:
        compress = self._compress and len(payload) >= self._compress_min
        return encode_envelope(payload, end_stream=end_stream, compress=compress)

    async def message(self, message: Message) -> bool:
        """Send one message; False when a truncate rule cut the reply here."""
        frame = self._frame(self._codec.encode(message))
        if self._truncate_after is not None and self._sent >= self._truncate_after:
            await self.cut(frame)
            return False
        await self._start()
        await self._send({"type": "http.response.body", "body": frame, "more_body": True})
        self._sent += 1
        return True

    async def cut(self, frame: bytes) -> None:
        """Send half of the envelope ``frame`` and end the body."""
        await self._start()
        await self._send(
            {"type": "http.response.body", "body": frame[: max(1, len(frame) // 2)], "more_body": False}
        )

    async def end(self, error: ConnectError | None) -> None:
        if not self._started:  # the whole reply: with a Content-Length it is complete at once
            self._started = True
            headers = _stream_headers(self._codec, compress=self._compress)
            await send_response(self._send, 200, headers, _end_stream(error))
            return
        await self._send({"type": "http.response.body", "body": _end_stream(error), "more_body": False})

    async def close_without_end(self) -> None:
        await self._start()
        await self._send({"type": "http.response.body", "body": b"", "more_body": False})


async def _request_stream(
    receive: Receive, codec: Codec, cls: type[Message], compressed: bool
) -> AsyncGenerator[Message, None]:
    """Decode a client stream's envelopes as their bytes arrive."""
    reader = EnvelopeReader(compressed=compressed)
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            raise ClientDisconnected
        try:
            for envelope in reader.feed(event.get("body", b"")):
                if envelope.end_stream:
                    continue
                yield _decode(codec, envelope.payload, cls)
        except EnvelopeError as exc:
            raise ConnectError(Code.INVALID_ARGUMENT, f"malformed request envelope: {exc}") from None
        if not event.get("more_body", False):
            if reader.pending:
                raise ConnectError(Code.INVALID_ARGUMENT, "the request stream ended inside an envelope")
            return


def _decode(codec: Codec, data: bytes, cls: type[Message]) -> Message:
    try:
        return codec.decode(data, cls)
    except (DecodeError, ValueError, TypeError) as exc:
        raise ConnectError(
            Code.INVALID_ARGUMENT, f"cannot decode {cls.DESCRIPTOR.full_name}: {exc}"
        ) from None


def _check_stream_encoding(headers: Mapping[str, str]) -> None:
    encoding = headers.get("connect-content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity", "gzip"):
        raise ConnectError(
            Code.UNIMPLEMENTED, f"connect-content-encoding {encoding!r} is not supported (gzip is)"
        )


def _stream_compressed(headers: Mapping[str, str]) -> bool:
    """Whether the client announced gzip-compressed request envelopes."""
    return headers.get("connect-content-encoding", "").strip().lower() == "gzip"


def _deadline(header: str | None) -> float | None:
    """The loop-time deadline named by ``Connect-Timeout-Ms``, or None when there is none."""
    if header is None:
        return None
    text = header.strip()
    if not text.isdigit() or len(text) > _MAX_TIMEOUT_DIGITS:
        raise ConnectError(
            Code.INVALID_ARGUMENT, "connect-timeout-ms must be a positive integer of at most 10 digits"
        )
    return asyncio.get_running_loop().time() + int(text) / 1000.0


async def _within(deadline: float | None, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable``, ending it as deadline_exceeded when ``deadline`` passes first."""
    if deadline is None:
        return await awaitable
    remaining = deadline - asyncio.get_running_loop().time()
    try:
        if remaining <= 0:
            raise asyncio.TimeoutError
        return await asyncio.wait_for(awaitable, remaining)
    except asyncio.TimeoutError:
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        raise ConnectError(Code.DEADLINE_EXCEEDED, "the call's deadline passed") from None


def _accepts_gzip(header: str | None) -> bool:
    if not header:
        return False
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() == "gzip":
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _accepted_types(streaming: bool) -> bytes:
    return (
        b"application/connect+proto, application/connect+json"
        if streaming
        else (b"application/proto, application/json")
    )


def _stream_headers(codec: Codec, *, compress: bool) -> Headers:
    headers: Headers = [(b"content-type", codec.stream_content_type.encode())]
    if compress:
        headers.append((b"connect-content-encoding", b"gzip"))
    headers.append((b"connect-accept-encoding", b"gzip"))
    return headers


def _retry_after(err: ConnectError) -> Headers:
    if err.retry_after is None:
        return []
    return [(b"retry-after", str(math.ceil(err.retry_after)).encode())]


def _end_stream(error: ConnectError | None) -> bytes:
    body: dict[str, Any] = {} if error is None else {"error": error.to_json()}
    return encode_envelope(json.dumps(body, separators=(",", ":")).encode(), end_stream=True)


async def _send_error(send: Send, err: ConnectError, *, status: int, extra: Headers | None = None) -> None:
    headers = [_JSON, *_retry_after(err), *(extra or [])]
    await send_response(send, status, headers, json.dumps(err.to_json(), separators=(",", ":")).encode())


def _internal(exc: Exception) -> ConnectError:
    return ConnectError(Code.INTERNAL, f"internal error ({type(exc).__name__})")
