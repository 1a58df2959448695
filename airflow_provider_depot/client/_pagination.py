"""``iter_*`` operations: walk ``next_page_token`` until it is empty (WIRE.md section 7).

A server that hands back a token it already gave (the same one forever, or a cycle) would
make a naive loop spin; the cursor remembers every token and raises PaginationError instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import ParamSpec, TypeVar

from google.protobuf.message import Message

from airflow_provider_depot.connect import AsyncConnectTransport, ConnectTransport, MethodSpec

from ._operations import Operation, Unary, checked

P = ParamSpec("P")
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)
Item = TypeVar("Item")

_TOKEN_IN = "page_token"
_TOKEN_OUT = "next_page_token"


class PaginationError(RuntimeError):
    """The server returned a page token it had already returned; following it would never end."""


class PageCursor:
    """Turns each response into the request for the next page."""

    def __init__(self, spec: MethodSpec, first: Req) -> None:
        self._rpc = spec.rpc
        self._first = first
        self._seen = {getattr(first, _TOKEN_IN)} - {""}
        self._pages = 0

    def advance(self, response: Message) -> Message | None:
        """The next request, or None once the server signals the last page."""
        self._pages += 1
        token: str = getattr(response, _TOKEN_OUT)
        if not token:
            return None
        if token in self._seen:
            raise PaginationError(f"{self._rpc}: page {self._pages} repeats an earlier next_page_token")
        self._seen.add(token)
        request = type(self._first)()
        request.CopyFrom(self._first)
        setattr(request, _TOKEN_IN, token)
        return request


def paged(
    list_op: Unary[P, Req, Resp], items: Callable[[Resp], Iterable[Item]]
) -> Operation[P, Req, Iterator[Item], AsyncIterator[Item]]:
    """An ``iter_*`` operation taking ``list_op``'s arguments and yielding every page's items.

    A ``page_token`` argument resumes from that cursor.
    """
    spec, output = list_op.spec, list_op.output
    for cls, field in ((spec.input, _TOKEN_IN), (output, _TOKEN_OUT)):
        if field not in cls.DESCRIPTOR.fields_by_name:
            raise TypeError(f"{spec.rpc} is not paged: {cls.DESCRIPTOR.full_name} has no {field}")

    def walk(transport: ConnectTransport, first: Req) -> Iterator[Item]:
        cursor = PageCursor(spec, first)
        request: Message | None = first
        while request is not None:
            response = checked(output, transport.unary(spec, request))
            yield from items(response)
            request = cursor.advance(response)

    async def awalk(transport: AsyncConnectTransport, first: Req) -> AsyncIterator[Item]:
        cursor = PageCursor(spec, first)
        request: Message | None = first
        while request is not None:
            response = checked(output, await transport.unary(spec, request))
            for item in items(response):
                yield item
            request = cursor.advance(response)

    return Operation(list_op.build, walk, awalk)
