"""What the transport needs to know about one RPC: its path, its shape, its message types."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

_READ_PREFIXES = ("Get", "List")


class MethodKind(enum.Enum):
    """The streaming shape of an RPC (Depot has no bidirectional streams)."""

    UNARY = "unary"
    SERVER_STREAM = "server_stream"
    CLIENT_STREAM = "client_stream"


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """One RPC of one service.

    ``idempotent`` marks a call that may be sent again after an ambiguous failure (a read).
    Depot declares no method idempotent, so it is inferred from the name (``Get*``, ``List*``).
    """

    service: str
    name: str
    kind: MethodKind
    input: type[Message]
    output: type[Message]
    idempotent: bool = False

    @property
    def path(self) -> str:
        """The URL path: ``/depot.core.v1.ProjectService/GetProject``."""
        return f"/{self.service}/{self.name}"

    @property
    def rpc(self) -> str:
        """The short name used in errors and logs: ``ProjectService/GetProject``."""
        return f"{self.service.rsplit('.', 1)[-1]}/{self.name}"


def method_spec_from_descriptor(service: ServiceDescriptor, name: str) -> MethodSpec:
    """The MethodSpec of ``service``'s method ``name``, as generated code describes it."""
    method = service.methods_by_name.get(name)
    if method is None:
        raise ValueError(f"name: {service.full_name} has no method {name!r}")
    if method.client_streaming and method.server_streaming:
        raise ValueError(f"name: {service.full_name}/{name} is bidirectional, which is not supported")
    if method.server_streaming:
        kind = MethodKind.SERVER_STREAM
    elif method.client_streaming:
        kind = MethodKind.CLIENT_STREAM
    else:
        kind = MethodKind.UNARY
    return MethodSpec(
        service=service.full_name,
        name=name,
        kind=kind,
        input=GetMessageClass(method.input_type),
        output=GetMessageClass(method.output_type),
        idempotent=name.startswith(_READ_PREFIXES),
    )
