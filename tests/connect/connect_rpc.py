"""The RPCs the transport tests call, and one awaitable face over both transport fronts.

Every test is written once against ``Front``; the ``front`` fixture runs it on the sync
ConnectTransport (called directly: the server runs on its own thread) and on the
AsyncConnectTransport.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from google.protobuf.message import Message

from airflow_provider_depot._proto.depot.build.v1 import build_pb2
from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot._proto.depot.core.v1 import project_pb2
from airflow_provider_depot.connect import (
    AsyncConnectTransport,
    ConnectError,
    ConnectTransport,
    MethodSpec,
    TransportOptions,
    method_spec_from_descriptor,
)

TOKEN = "test-token-7f3a9c"
# Short pauses so that retry tests stay fast; the decisions, not the durations, are tested.
FAST_RETRIES = {"max_retries": 3, "backoff_base": 0.01, "backoff_max": 0.05}

_PROJECTS = project_pb2.DESCRIPTOR.services_by_name["ProjectService"]
_BUILDS = build_pb2.DESCRIPTOR.services_by_name["BuildService"]
_BUILDKIT = buildkit_pb2.DESCRIPTOR.services_by_name["BuildKitService"]

GET_PROJECT = method_spec_from_descriptor(_PROJECTS, "GetProject")
LIST_PROJECTS = method_spec_from_descriptor(_PROJECTS, "ListProjects")
CREATE_PROJECT = method_spec_from_descriptor(_PROJECTS, "CreateProject")
CREATE_TOKEN = method_spec_from_descriptor(_PROJECTS, "CreateToken")
CREATE_BUILD = method_spec_from_descriptor(_BUILDS, "CreateBuild")
GET_ENDPOINT = method_spec_from_descriptor(_BUILDKIT, "GetEndpoint")
REPORT_HEALTH = method_spec_from_descriptor(_BUILDKIT, "ReportHealth")


# The request field the reference server keys its scripts on, per RPC.
_KEY_FIELDS = {
    GET_PROJECT: "project_id",
    LIST_PROJECTS: "region_id",
    CREATE_PROJECT: "name",
    CREATE_TOKEN: "description",
    CREATE_BUILD: "project_id",
}


def keyed(spec: MethodSpec, key: str) -> Message:
    """A request of ``spec`` that the reference server files under ``key``."""
    return spec.input(**{_KEY_FIELDS[spec]: key})


def get_project(key: str) -> project_pb2.GetProjectRequest:
    return project_pb2.GetProjectRequest(project_id=key)


def get_endpoint(key: str) -> buildkit_pb2.GetEndpointRequest:
    return buildkit_pb2.GetEndpointRequest(build_id=key, platform=buildkit_pb2.PLATFORM_AMD64)


def health(key: str, count: int) -> list[buildkit_pb2.ReportHealthRequest]:
    return [buildkit_pb2.ReportHealthRequest(build_id=key, platform=buildkit_pb2.PLATFORM_ARM64)] * count


class Front:
    """A transport of either front; every call is awaitable."""

    def __init__(self, kind: str, options: TransportOptions) -> None:
        self.kind = kind
        self.options = options
        self._sync = ConnectTransport(options) if kind == "sync" else None
        self._async = AsyncConnectTransport(options) if kind == "async" else None

    async def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
        if self._async is not None:
            await self._async.aclose()

    async def unary(self, spec: MethodSpec, request: Message, **kwargs: Any) -> Message:
        if self._sync is not None:
            return self._sync.unary(spec, request, **kwargs)
        assert self._async is not None
        return await self._async.unary(spec, request, **kwargs)

    async def server_stream(
        self, spec: MethodSpec, request: Message, *, take: int | None = None, **kwargs: Any
    ) -> tuple[list[Message], ConnectError | None]:
        """The messages received and the error that ended the stream (None: success).

        ``take`` leaves the stream after that many messages.
        """
        got: list[Message] = []
        try:
            if self._sync is not None:
                with self._sync.server_stream(spec, request, **kwargs) as stream:
                    for message in stream:
                        got.append(message)
                        if len(got) == take:
                            break
            else:
                assert self._async is not None
                async with self._async.server_stream(spec, request, **kwargs) as astream:
                    async for message in astream:
                        got.append(message)
                        if len(got) == take:
                            break
        except ConnectError as err:
            return got, err
        return got, None

    async def client_stream(
        self,
        spec: MethodSpec,
        messages: Sequence[Message],
        *,
        interval: float = 0.0,
        async_source: bool = True,
        **kwargs: Any,
    ) -> Message:
        """Send ``messages``, ``interval`` seconds apart, pulled lazily by the transport.

        The async front gets an async generator, or a plain one with ``async_source=False``.
        """

        def paced() -> Iterator[Message]:
            for i, message in enumerate(messages):
                if i and interval:
                    time.sleep(interval)
                yield message

        async def apaced() -> AsyncIterator[Message]:
            for i, message in enumerate(messages):
                if i and interval:
                    await asyncio.sleep(interval)
                yield message

        if self._sync is not None:
            return self._sync.client_stream(spec, paced(), **kwargs)
        assert self._async is not None
        source = apaced() if async_source else paced()
        return await self._async.client_stream(spec, source, **kwargs)


MakeFront = Callable[..., Front]
