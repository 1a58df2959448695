"""Fixtures for the emulator tests: a running emulator, Connect clients for it, raw wire helpers.

``rpc`` calls through the connect layer's ConnectTransport (retries off, so every attempt the
emulator sees is one the test made). ``wire`` talks raw httpx for the protocol details the
transport hides (status lines, headers, envelopes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from google.protobuf import descriptor_pool
from google.protobuf.message import Message

# Import every generated module so their services are in the default descriptor pool.
from airflow_provider_depot._proto.depot.build.v1 import build_pb2, registry_pb2  # noqa: F401
from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2  # noqa: F401
from airflow_provider_depot._proto.depot.cli.v1 import build_pb2 as cli_build_pb2  # noqa: F401
from airflow_provider_depot._proto.depot.cli.v1beta1 import projects_pb2  # noqa: F401
from airflow_provider_depot._proto.depot.core.v1 import build_pb2 as core_build_pb2  # noqa: F401
from airflow_provider_depot._proto.depot.core.v1 import org_pb2, project_pb2, usage_pb2  # noqa: F401
from airflow_provider_depot.connect import (
    Code,
    ConnectError,
    ConnectTransport,
    MethodSpec,
    TransportOptions,
    method_spec_from_descriptor,
)
from airflow_provider_depot.connect._envelope import EnvelopeReader, encode_envelope
from airflow_provider_depot.emulator import EmulatorHandle, run_emulator
from airflow_provider_depot.emulator.depot._model import Project


def spec(path: str) -> MethodSpec:
    """The MethodSpec of ``"depot.core.v1.ProjectService/GetProject"``."""
    service, method = path.split("/")
    return method_spec_from_descriptor(descriptor_pool.Default().FindServiceByName(service), method)


def error_code(call: Any, *args: Any, **kwargs: Any) -> Code:
    """The code of the ConnectError that ``call(*args, **kwargs)`` must raise."""
    with pytest.raises(ConnectError) as info:
        call(*args, **kwargs)
    return info.value.code


class Rpc:
    """One ConnectTransport plus the method lookup: ``rpc("pkg.Service/Method", request)``."""

    def __init__(
        self, url: str, token: str | None, *, codec: str = "proto", http_version: str = "1.1"
    ) -> None:
        self.transport = ConnectTransport(
            TransportOptions(base_url=url, token=token, codec=codec, http_version=http_version, max_retries=0)
        )

    def __call__(
        self, path: str, request: Message, *, token: str | None = None, timeout: float | None = None
    ) -> Any:
        return self.transport.unary(spec(path), request, token=token, timeout=timeout)

    def server_stream(self, path: str, request: Message, *, token: str | None = None) -> list[Any]:
        with self.transport.server_stream(spec(path), request, token=token) as stream:
            return list(stream)

    def client_stream(self, path: str, requests: Iterable[Message], *, token: str | None = None) -> Any:
        return self.transport.client_stream(spec(path), iter(requests), token=token)

    def close(self) -> None:
        self.transport.close()


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    """A fresh emulator with quick pending replies."""
    with run_emulator(pending=1, pending_interval=0.01, id_seed=7) as handle:
        yield handle


@pytest.fixture
def rpc(emulator: EmulatorHandle) -> Iterator[Rpc]:
    client = Rpc(emulator.url, emulator.token)
    yield client
    client.close()


@pytest.fixture
def project(emulator: EmulatorHandle) -> Project:
    """A project in the emulator's default organization."""
    return emulator.admin.create_project("app")


@dataclass
class StreamReply:
    status: int
    headers: httpx.Headers
    messages: list[bytes]
    end: dict[str, Any] | None
    leftover: int


class Wire:
    """Raw Connect over httpx, for checking what goes over the wire."""

    def __init__(self, url: str, token: str | None, *, http2: bool = False) -> None:
        self.client = httpx.Client(base_url=url, http1=not http2, http2=http2, timeout=30)
        self.token = token

    def _headers(self, content_type: str, extra: dict[str, str] | None, token: str | None) -> dict[str, str]:
        headers = {
            "content-type": content_type,
            "connect-protocol-version": "1",
            "accept-encoding": "identity",
        }
        chosen = token if token is not None else self.token
        if chosen:
            headers["authorization"] = f"Bearer {chosen}"
        headers.update(extra or {})
        return headers

    def post(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str = "application/proto",
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        return self.client.post(path, content=body, headers=self._headers(content_type, headers, token))

    def stream(
        self,
        path: str,
        messages: Iterable[bytes],
        *,
        content_type: str = "application/connect+proto",
        headers: dict[str, str] | None = None,
        token: str | None = None,
        compress: bool = False,
    ) -> StreamReply:
        body = b"".join(encode_envelope(m, compress=compress) for m in messages)
        reply = self.post(path, body, content_type=content_type, headers=headers, token=token)
        reader = EnvelopeReader()
        payloads: list[bytes] = []
        end = None
        for envelope in reader.feed(reply.content):
            if envelope.end_stream:
                end = json.loads(envelope.payload)
            else:
                payloads.append(envelope.payload)
        return StreamReply(reply.status_code, reply.headers, payloads, end, reader.pending)

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def wire(emulator: EmulatorHandle) -> Iterator[Wire]:
    client = Wire(emulator.url, emulator.token)
    yield client
    client.close()
