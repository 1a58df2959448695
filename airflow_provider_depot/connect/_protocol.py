"""The Connect protocol without I/O, shared by the sync and the async transport.

The fronts (``_sync``, ``_async``) only move bytes: they send the ``httpx.Request`` a Call
builds, hand the response back to it, and sleep for as long as ``Call.backoff`` says.
Everything else is here: headers, deadlines, response interpretation, envelopes, the error
for every failure, and the retry decision.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from google.protobuf.message import Message

from ._codec import CODECS, Codec
from ._codes import Code
from ._envelope import EnvelopeError, EnvelopeReader, encode_envelope
from ._errors import ConnectError, error_from_json, parse_error_body
from ._log_hygiene import silence_header_debug_logs
from ._method import MethodKind, MethodSpec
from ._options import TransportOptions, check_timeout, check_token
from ._retry import RetryPolicy, certificate_rejected, never_sent, parse_retry_after

logger = logging.getLogger("airflow_provider_depot.connect")

# Without a deadline a call may legitimately run for minutes (a builder booting, a health
# stream), so only establishing the connection is bounded.
CONNECT_TIMEOUT = 30.0
_NO_DEADLINE = {"connect": CONNECT_TIMEOUT, "read": None, "write": None, "pool": None}
MAX_CONNECTIONS = 100  # kept alive too: 64 calls in flight must not reconnect after each burst
_MAX_TIMEOUT_MS = 9_999_999_999  # Connect-Timeout-Ms carries at most 10 digits
_SUPPORTED_ENCODINGS = frozenset({"identity", "gzip"})
HttpxClient = TypeVar("HttpxClient", httpx.Client, httpx.AsyncClient)


class _NoCookies(httpx.Cookies):
    """A cookie store that never stores one: see ``ConnectProtocol.new_client``."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class PreparedMethod:
    """What is fixed for one RPC on one transport: URL, headers, expected content type."""

    __slots__ = ("content_type", "headers", "idempotent", "input", "output", "rpc", "url")

    def __init__(self, spec: MethodSpec, options: TransportOptions, codec: Codec) -> None:
        self.url = httpx.URL(options.base_url + spec.path)
        self.rpc = spec.rpc
        self.input = spec.input
        self.output = spec.output
        self.idempotent = spec.idempotent
        unary = spec.kind is MethodKind.UNARY
        self.content_type = codec.unary_content_type if unary else codec.stream_content_type
        headers = [
            (b"host", self.url.netloc),
            (b"content-type", self.content_type.encode()),
            (b"connect-protocol-version", b"1"),
            (b"user-agent", options.user_agent.encode()),
        ]
        if unary:
            headers.append((b"accept-encoding", b"gzip" if options.accept_gzip else b"identity"))
        elif options.accept_gzip:
            headers.append((b"connect-accept-encoding", b"gzip"))
        self.headers = headers


class ConnectProtocol:
    """Per-transport protocol state: options, codec, retry policy, prepared methods."""

    def __init__(self, options: TransportOptions) -> None:
        self.options = options
        self.codec = CODECS[options.codec]
        self.policy = RetryPolicy(options.max_retries, options.backoff_base, options.backoff_max)
        self._auth = _bearer(options.token) if options.token is not None else None
        self._cleartext_remote = options.cleartext_remote
        self._prepared: dict[MethodSpec, PreparedMethod] = {}
        self.ssl_context = _ssl_context(options.verify)
        if options.verify is False:
            logger.warning("TLS certificate verification is disabled for %s", options.base_url)

    @property
    def http1_only(self) -> bool:
        """True when every connection will speak HTTP/1.1 (no ALPN, no prior knowledge)."""
        version = self.options.http_version
        return version == "1.1" or (version == "auto" and self.options.base_url.startswith("http://"))

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the one pooled httpx client of a transport."""
        version = self.options.http_version
        return {
            "http1": version in ("auto", "1.1"),
            "http2": version in ("auto", "h2c", "2"),
            "verify": self.ssl_context,
            "follow_redirects": False,
            "timeout": None,  # every request carries its own timeouts
            "limits": httpx.Limits(
                max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
            ),
        }

    def new_client(self, client_class: type[HttpxClient], **overrides: Any) -> HttpxClient:
        """The one pooled httpx client of a transport: ``client_kwargs()`` updated by ``overrides``.

        It keeps no cookies. Every Connect call carries its bearer token and the official
        clients have no cookie jar either, while httpx parses each response for Set-Cookie
        (about a sixth of a sequential unary call's CPU on loopback) and offers no switch
        for it: its ``cookies`` setter re-wraps whatever it is given.
        """
        silence_header_debug_logs()
        client = client_class(**{**self.client_kwargs(), **overrides})
        client._cookies = _NoCookies()
        return client

    def start(self, spec: MethodSpec, kind: MethodKind, timeout: float | None, token: str | None) -> Call:
        """Validate the per-call arguments and begin a call (no I/O yet)."""
        if not isinstance(spec, MethodSpec) or spec.kind is not kind:
            raise ValueError(f"spec must be a {kind.value} MethodSpec, got {spec!r}")
        if timeout is None:
            timeout = self.options.timeout
        else:
            check_timeout(timeout, "timeout")
        auth = self._auth
        if token is not None:
            check_token(token, "token")
            if self._cleartext_remote:
                self.options.check_token_destination()
            auth = _bearer(token)
        prepared = self._prepared.get(spec)
        if prepared is None:
            prepared = self._prepared[spec] = PreparedMethod(spec, self.options, self.codec)
        return Call(self, prepared, timeout, auth)


def _ssl_context(verify: bool | str) -> ssl.SSLContext:
    """The TLS trust: httpx's default (SSL_CERT_FILE, SSL_CERT_DIR, else certifi), none, or a bundle."""
    if isinstance(verify, bool):
        return httpx.create_ssl_context(verify=verify)
    return ssl.create_default_context(cafile=verify)


def _bearer(token: str) -> bytes:
    return b"Bearer " + token.encode("ascii")


class Call:
    """One RPC invocation: its deadline, its attempts, and the meaning of what came back."""

    __slots__ = ("_auth", "_codec", "_policy", "deadline", "method", "replayable", "retries", "timeout")

    def __init__(
        self, protocol: ConnectProtocol, method: PreparedMethod, timeout: float | None, auth: bytes | None
    ) -> None:
        self.method = method
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.retries = 0
        # False once a client stream has pulled from the caller's iterator: it cannot be replayed.
        self.replayable = True
        self._auth = auth
        self._codec = protocol.codec
        self._policy = protocol.policy

    # -- requests -------------------------------------------------------------------------

    def encode(self, message: Message) -> bytes:
        """The body of a unary request."""
        self._check_input(message)
        return self._codec.encode(message)

    def envelope(self, message: Message) -> bytes:
        """One request message of a stream, framed (a slow producer cannot outlive the deadline)."""
        self._check_input(message)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise self._deadline_error("while streaming")
        return encode_envelope(self._codec.encode(message))

    def _check_input(self, message: Message) -> None:
        if not isinstance(message, self.method.input):
            raise TypeError(
                f"{self.method.rpc}: request must be a {self.method.input.DESCRIPTOR.full_name}, "
                f"got {type(message).__name__}"
            )

    def request(self, body: bytes | httpx.SyncByteStream | httpx.AsyncByteStream) -> httpx.Request:
        """The HTTP request for the next attempt (the deadline shrinks between attempts)."""
        method = self.method
        headers = method.headers.copy()
        if self.deadline is None:
            timeouts: dict[str, float | None] = _NO_DEADLINE
        else:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise self._deadline_error("before sending")
            timeout_ms = min(max(1, int(remaining * 1000)), _MAX_TIMEOUT_MS)
            headers.append((b"connect-timeout-ms", b"%d" % timeout_ms))
            connect = min(remaining, CONNECT_TIMEOUT)
            timeouts = {"connect": connect, "read": remaining, "write": remaining, "pool": remaining}
        if self._auth is not None:
            headers.append((b"authorization", self._auth))
        if isinstance(body, bytes):
            headers.append((b"content-length", b"%d" % len(body)))
            stream: httpx.SyncByteStream | httpx.AsyncByteStream = httpx.ByteStream(body)
        else:
            headers.append((b"transfer-encoding", b"chunked"))
            stream = body
        return httpx.Request(
            "POST", method.url, headers=headers, stream=stream, extensions={"timeout": timeouts}
        )

    # -- failures and retries -------------------------------------------------------------

    def error(self, code: Code, message: str) -> ConnectError:
        return ConnectError(code, message, rpc=self.method.rpc)

    def _deadline_error(self, when: str) -> ConnectError:
        return self.error(Code.DEADLINE_EXCEEDED, f"deadline of {self.timeout:g}s exceeded {when}")

    def transport_error(self, exc: httpx.HTTPError) -> ConnectError:
        """The ConnectError for an httpx failure: our deadline, a bad body, or the network."""
        if isinstance(exc, httpx.TimeoutException) and self.deadline is not None:
            err = self._deadline_error(f"({type(exc).__name__})")
        elif isinstance(exc, httpx.DecodingError):
            err = self.error(Code.INTERNAL, f"cannot decode the response body: {exc}")
        else:
            name, detail = type(exc).__name__, str(exc)
            err = self.error(Code.UNAVAILABLE, f"{name}: {detail}" if detail else name)
        err.__cause__ = exc
        return err

    def backoff(self, exc: ConnectError | httpx.HTTPError) -> float:
        """Seconds to sleep before the next attempt; raises the call's final error instead."""
        if isinstance(exc, ConnectError):
            error, unsent, hopeless = exc, False, False
        else:
            error, unsent, hopeless = self.transport_error(exc), never_sent(exc), certificate_rejected(exc)
        delay = None
        if self.replayable and not hopeless:
            remaining = None if self.deadline is None else self.deadline - time.monotonic()
            delay = self._policy.pause(
                retries_done=self.retries,
                error=error,
                unsent=unsent,
                idempotent=self.method.idempotent,
                remaining=remaining,
            )
        if delay is None:
            raise error
        self.retries += 1
        logger.warning(
            "%s failed with %s; retry %d of %d in %.2fs",
            self.method.rpc,
            error.code.value,
            self.retries,
            self._policy.max_retries,
            delay,
        )
        return delay

    # -- responses ------------------------------------------------------------------------

    def http_error(self, response: httpx.Response) -> ConnectError:
        """The error a non-200 response carries (its body must have been read)."""
        err = parse_error_body(response.content, response.status_code)
        err.retry_after = parse_retry_after(response.headers.get("retry-after"))
        return err.with_rpc(self.method.rpc)

    def unary_result(self, response: httpx.Response) -> Message:
        """The response message of a unary call (body read), or the error it carries."""
        self._check_head(response, "application/", "content-encoding")
        return self._decode(response.content)

    def stream_decoder(self, response: httpx.Response) -> StreamDecoder:
        """Check a streaming response's head; the decoder for its body, or the error it carries.

        A non-200 response's body must have been read: it is a unary-style error.
        """
        encoding = self._check_head(response, "application/connect+", "connect-content-encoding")
        return StreamDecoder(self, compressed=encoding == "gzip")

    def _check_head(self, response: httpx.Response, family: str, encoding_header: str) -> str:
        """Raise for a non-200 status, a foreign content type or an encoding never offered.

        Returns the body's (or the messages') encoding.
        """
        if response.status_code != 200:
            raise self.http_error(response)
        headers = response.headers
        content_type = headers.get("content-type", "")
        if content_type != self.method.content_type:
            self._check_content_type(content_type, family)
        encoding = (headers.get(encoding_header) or "identity").lower()
        if encoding not in _SUPPORTED_ENCODINGS:
            raise self.error(Code.INTERNAL, f"unsupported {encoding_header} {encoding!r}")
        return encoding

    def client_stream_result(self, response: httpx.Response) -> Message:
        """The single response message of a client stream (body read), or its error."""
        decoder = self.stream_decoder(response)
        messages = decoder.feed(response.content)
        decoder.finish()
        if len(messages) != 1:
            raise self.error(
                Code.UNIMPLEMENTED, f"a client stream must answer exactly one message, got {len(messages)}"
            )
        return messages[0]

    def _check_content_type(self, content_type: str, family: str) -> None:
        base = content_type.split(";", 1)[0].strip().lower()
        if base == self.method.content_type:
            return
        # Another codec of the protocol is a protocol error; anything else is not Connect at all.
        code = Code.INTERNAL if base.startswith(family) else Code.UNKNOWN
        expected = self.method.content_type
        raise self.error(code, f"unexpected response Content-Type {content_type!r}, expected {expected!r}")

    def _decode(self, data: bytes) -> Message:
        try:
            return self._codec.decode(data, self.method.output)
        except Exception as exc:  # DecodeError, json_format.ParseError, ...: the bytes are not the message
            raise self.error(Code.INTERNAL, f"cannot decode the response message: {exc}") from exc


class StreamDecoder:
    """Turns the chunks of a streaming response body into messages, then checks its end.

    The messages a chunk completes are delivered before any error found after them in the
    same chunk; that error is raised by the next ``feed`` or by ``finish``.
    """

    __slots__ = ("_call", "_error", "_reader", "ended", "metadata")

    def __init__(self, call: Call, *, compressed: bool) -> None:
        self._call = call
        self._reader = EnvelopeReader(compressed=compressed)
        self._error: ConnectError | None = None
        self.ended = False
        self.metadata: dict[str, str] = {}

    def feed(self, chunk: bytes) -> list[Message]:
        """The messages completed by ``chunk``."""
        call = self._call
        if self._error is not None:
            raise self._error
        if call.deadline is not None and time.monotonic() > call.deadline:
            raise call._deadline_error("while streaming")
        messages = []
        try:
            for envelope in self._reader.feed(chunk):
                if self.ended:
                    raise call.error(Code.INTERNAL, "data after the end-of-stream message")
                if envelope.end_stream:
                    self._end(envelope.payload)
                else:
                    messages.append(call._decode(envelope.payload))
        except EnvelopeError as exc:
            self._error = call.error(Code.INTERNAL, f"malformed stream: {exc}")
        except ConnectError as err:
            self._error = err
        if self._error is not None and not messages:
            raise self._error
        return messages

    def finish(self) -> None:
        """The body ended cleanly: raise what the stream ended with, unless that was success."""
        if self._error is not None:
            raise self._error
        if self._reader.pending:
            raise self._call.error(
                Code.INTERNAL, f"stream truncated inside a message ({self._reader.pending} bytes left over)"
            )
        if not self.ended:
            raise self._call.error(Code.INTERNAL, "stream ended without an end-of-stream message")

    def _end(self, payload: bytes) -> None:
        self.ended = True
        try:
            data = json.loads(payload) if payload else {}
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, Mapping):
            raise self._call.error(Code.INTERNAL, "the end-of-stream message is not a JSON object")
        self.metadata = _flatten_metadata(data.get("metadata"))
        raw_error = data.get("error")
        if raw_error is None:
            return
        err = error_from_json(raw_error, fallback=Code.UNKNOWN)
        if err is None:
            raise self._call.error(Code.INTERNAL, "the end-of-stream message holds a malformed error")
        err.metadata = self.metadata
        raise err.with_rpc(self._call.method.rpc)


def _flatten_metadata(raw: object) -> dict[str, str]:
    """End-of-stream metadata maps names to lists of values; keep each as one comma-joined string."""
    if not isinstance(raw, Mapping):
        return {}
    return {
        str(key).lower(): ", ".join(map(str, values)) if isinstance(values, list) else str(values)
        for key, values in raw.items()
    }
