"""One definition per RPC, executed by whichever front (sync or async) it is reached through.

A service group class (``ProjectsAPI`` ...) declares each operation once, as a descriptor that
wraps a *builder*: a function that validates keyword arguments and returns what to send (a
request message, or session parameters). The group is generic in a phantom mode type:
``ProjectsAPI[SyncMode]`` is bound to a ``ConnectTransport`` and its operations return ``T``;
``ProjectsAPI[AsyncMode]`` is bound to an ``AsyncConnectTransport`` and returns ``Awaitable[T]``
(or an async iterator / async context manager). The descriptor's overloaded ``__get__`` gives
mypy the precise return type per mode; at run time the transport's class picks the runner.
Validation therefore always happens eagerly, before a request exists, in both modes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message

from airflow_provider_depot.connect import (
    AsyncConnectTransport,
    ConnectTransport,
    MethodSpec,
    method_spec_from_descriptor,
)

P = ParamSpec("P")
Built = TypeVar("Built")
SyncResult = TypeVar("SyncResult")
AsyncResult = TypeVar("AsyncResult")
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


class SyncMode:
    """Phantom type: the group runs on a ConnectTransport and returns results directly."""


class AsyncMode:
    """Phantom type: the group runs on an AsyncConnectTransport and returns awaitables."""


Mode = TypeVar("Mode", SyncMode, AsyncMode)
Transport = ConnectTransport | AsyncConnectTransport


class ServiceGroup(Generic[Mode]):
    """Base of the service groups: holds the transport its operations run on."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport


class Operation(Generic[P, Built, SyncResult, AsyncResult]):
    """A descriptor: ``build`` runs first (validation), then the mode's runner executes it."""

    def __init__(
        self,
        build: Callable[Concatenate[Any, P], Built],
        run_sync: Callable[[ConnectTransport, Built], SyncResult],
        run_async: Callable[[AsyncConnectTransport, Built], AsyncResult],
    ) -> None:
        self.build = build
        self._run_sync = run_sync
        self._run_async = run_async
        self.__name__ = build.__name__
        self.__doc__ = build.__doc__
        self.__wrapped__ = build
        parameters = list(inspect.signature(build).parameters.values())[1:]  # all but the group
        self._signature = inspect.Signature(parameters)

    @overload
    def __get__(self, group: None, owner: type[Any]) -> Operation[P, Built, SyncResult, AsyncResult]: ...
    @overload
    def __get__(self, group: ServiceGroup[SyncMode], owner: type[Any]) -> Callable[P, SyncResult]: ...
    @overload
    def __get__(self, group: ServiceGroup[AsyncMode], owner: type[Any]) -> Callable[P, AsyncResult]: ...

    def __get__(self, group: ServiceGroup[Any] | None, owner: type[Any]) -> Any:
        if group is None:
            return self
        transport = group._transport

        @functools.wraps(self.build)
        def bound(*args: P.args, **kwargs: P.kwargs) -> Any:
            built = self.build(group, *args, **kwargs)
            if isinstance(transport, AsyncConnectTransport):
                return self._run_async(transport, built)
            return self._run_sync(transport, built)

        bound.__signature__ = self._signature  # type: ignore[attr-defined]  # help() shows the kwargs
        return bound


class Unary(Operation[P, Req, Resp, Awaitable[Resp]], Generic[P, Req, Resp]):
    """A unary RPC; ``spec`` comes from the generated service descriptor."""

    def __init__(
        self, spec: MethodSpec, build: Callable[Concatenate[Any, P], Req], output: type[Resp]
    ) -> None:
        self.spec = spec
        self.output = output
        super().__init__(build, self._call, self._acall)

    def _call(self, transport: ConnectTransport, request: Req) -> Resp:
        return checked(self.output, transport.unary(self.spec, request))

    async def _acall(self, transport: AsyncConnectTransport, request: Req) -> Resp:
        return checked(self.output, await transport.unary(self.spec, request))


def checked(cls: type[Resp], message: object) -> Resp:
    """``message`` narrowed to ``cls``; a mismatch is a bug in the spec tables, not user error."""
    if not isinstance(message, cls):
        raise TypeError(
            f"expected a {cls.DESCRIPTOR.full_name}, the transport returned {type(message).__name__}"
        )
    return message


def rpc_spec(service: ServiceDescriptor, python_name: str, output: type[Message]) -> MethodSpec:
    """The spec of the method that ``python_name`` (snake_case) names in ``service``.

    Raises at import time if the method does not exist or answers with another message type,
    so a client method can never drift from the .proto files.
    """
    method = "".join(part.capitalize() for part in python_name.split("_"))
    if method not in service.methods_by_name:
        raise LookupError(f"{service.full_name} has no method {method} (for {python_name})")
    spec = method_spec_from_descriptor(service, method)
    if spec.output is not output:
        raise TypeError(f"{service.full_name}/{method} returns {spec.output.__name__}, not {output.__name__}")
    return spec


def unary(
    service: ServiceDescriptor, output: type[Resp]
) -> Callable[[Callable[Concatenate[Any, P], Req]], Unary[P, Req, Resp]]:
    """Decorate a request builder named after its RPC (``get_project`` -> ``GetProject``)."""

    def decorate(build: Callable[Concatenate[Any, P], Req]) -> Unary[P, Req, Resp]:
        return Unary(rpc_spec(service, build.__name__, output), build, output)

    return decorate
