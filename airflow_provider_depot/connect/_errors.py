"""ConnectError and the Connect error JSON (``{"code", "message", "details"}``)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import symbol_database
from google.protobuf.message import DecodeError, Message

from ._codes import Code


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of ``details``: a packed protobuf message.

    ``message`` is the decoded message when its type is registered in the default
    descriptor pool (every generated Depot type and the well-known types are), else None.
    """

    type: str
    value: bytes
    message: Message | None = None

    @classmethod
    def pack(cls, message: Message) -> ErrorDetail:
        return cls(message.DESCRIPTOR.full_name, message.SerializeToString(), message)

    def to_json(self) -> dict[str, str]:
        return {"type": self.type, "value": base64.b64encode(self.value).decode().rstrip("=")}


class ConnectError(Exception):
    """A failed RPC.

    ``str()`` is a one-liner: ``ProjectService/GetProject: not_found: project xyz not found``.
    """

    def __init__(
        self,
        code: Code,
        message: str = "",
        *,
        details: Sequence[ErrorDetail] = (),
        http_status: int | None = None,
        rpc: str | None = None,
        metadata: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.details = tuple(details)
        self.http_status = http_status
        self.rpc = rpc
        self.metadata = dict(metadata or {})
        self.retry_after = retry_after

    def with_rpc(self, rpc: str) -> ConnectError:
        self.rpc = rpc
        return self

    def __str__(self) -> str:
        head = f"{self.rpc}: " if self.rpc else ""
        tail = f": {self.message}" if self.message else ""
        return f"{head}{self.code.value}{tail}"

    def __repr__(self) -> str:
        return f"ConnectError(code={self.code.value!r}, message={self.message!r}, rpc={self.rpc!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the error picklable (Airflow ships exceptions between processes).
        return (_rebuild, (self.code.value, self.message, self.http_status, self.rpc))

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code.value}
        if self.message:
            body["message"] = self.message
        if self.details:
            body["details"] = [d.to_json() for d in self.details]
        return body


def _rebuild(code: str, message: str, http_status: int | None, rpc: str | None) -> ConnectError:
    return ConnectError(Code(code), message, http_status=http_status, rpc=rpc)


def _b64decode(text: str) -> bytes:
    altchars = b"-_" if ("-" in text or "_" in text) else None
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=altchars)


def _decode_detail(raw: object) -> ErrorDetail | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("type"), str):
        return None
    type_name = raw["type"].rsplit("/", 1)[-1]
    try:
        value = _b64decode(str(raw.get("value", "")))
    except (binascii.Error, ValueError):
        return None
    decoded: Message | None = None
    try:
        cls = symbol_database.Default().GetSymbol(type_name)
        decoded = cls.FromString(value)
    except (KeyError, DecodeError):
        decoded = None
    return ErrorDetail(type_name, value, decoded)


def error_from_json(
    data: object, *, http_status: int | None = None, fallback: Code = Code.UNKNOWN
) -> ConnectError | None:
    """Build a ConnectError from parsed error JSON; None if ``data`` is not Connect error JSON.

    An unrecognised ``code`` string maps to ``fallback`` (the status-derived code), as the
    protocol specification asks.
    """
    if not isinstance(data, Mapping):
        return None
    raw_code = data.get("code")
    if raw_code is not None and not isinstance(raw_code, str):
        return None
    message = data.get("message", "")
    if not isinstance(message, str):
        message = str(message)
    code = Code.from_wire(raw_code) or fallback
    details = [d for d in map(_decode_detail, data.get("details") or []) if d is not None]
    return ConnectError(code, message, details=details, http_status=http_status)


def parse_error_body(body: bytes, http_status: int) -> ConnectError:
    """The error carried by a unary non-200 reply: Connect JSON if it is, else mapped by status.

    JSON with a ``message`` but no (or a null) ``code`` keeps the message and takes the
    status-derived code, as the conformance suite's ``error/missing-code`` case requires.
    """
    fallback = Code.from_http_status(http_status)
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        data = None
    err = error_from_json(data, http_status=http_status, fallback=fallback) if data is not None else None
    if err is None or (isinstance(data, Mapping) and "code" not in data and "message" not in data):
        snippet = body[:200].decode("utf-8", "replace").strip()
        message = f"HTTP {http_status}" + (f": {snippet}" if snippet else "")
        return ConnectError(fallback, message, http_status=http_status)
    return err
