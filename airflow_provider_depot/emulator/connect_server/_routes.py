"""The route table: URL path -> (MethodSpec from the generated descriptors, handler).

A service implementation is any object with one attribute per RPC, named as in the .proto file
(``GetProject``). Its shape follows the method kind:

- unary: ``handler(call, request) -> response`` (plain or ``async def``);
- server-stream: ``async def handler(call, request)`` yielding responses (an async generator);
- client-stream: ``async def handler(call, requests) -> response``, ``requests`` an async iterator.

``routes_for`` refuses a service that lacks a method, so every RPC of a service is served.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import ServiceDescriptor

from airflow_provider_depot.connect._method import MethodKind, MethodSpec, method_spec_from_descriptor


@dataclass(frozen=True, slots=True)
class Route:
    spec: MethodSpec
    handler: Callable[..., Any]
    awaitable: bool


def routes_for(service: ServiceDescriptor, impl: object) -> dict[str, Route]:
    """One route per method of ``service``, each bound to ``impl``'s attribute of that name."""
    routes = {}
    for method in service.methods:
        spec = method_spec_from_descriptor(service, method.name)
        handler = getattr(impl, method.name, None)
        if not callable(handler):
            raise TypeError(f"{type(impl).__name__} does not implement {service.full_name}/{method.name}")
        if spec.kind is MethodKind.SERVER_STREAM and not inspect.isasyncgenfunction(handler):
            raise TypeError(f"{spec.rpc} is server-streaming: its handler must be an async generator")
        if spec.kind is MethodKind.CLIENT_STREAM and not inspect.iscoroutinefunction(handler):
            raise TypeError(f"{spec.rpc} is client-streaming: its handler must be a coroutine function")
        routes[spec.path] = Route(spec, handler, inspect.iscoroutinefunction(handler))
    return routes


def route_table(services: Iterable[tuple[ServiceDescriptor, object]]) -> dict[str, Route]:
    table: dict[str, Route] = {}
    for descriptor, impl in services:
        table.update(routes_for(descriptor, impl))
    return table
