"""Page sizes and opaque page tokens.

A token is a keyset cursor, not an offset: it holds the sequence number of the last item a page
returned (every listed record gets an increasing ``seq`` when it is stored), plus a MAC that binds
it to one listing (``images:<project>``) under the state's secret key. Deleting items between
pages therefore never skips or repeats one, items created meanwhile appear only in listings that
have not passed their place yet, a token cannot be guessed or edited (``invalid_argument``), and a
token from one listing is refused by another. Tokens stay valid across restarts with ``--state``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import hmac
import struct
from collections.abc import Callable, Sequence
from typing import TypeVar

from airflow_provider_depot.connect._codes import Code
from airflow_provider_depot.connect._errors import ConnectError

T = TypeVar("T")
MAX_PAGE_SIZE = 100
_POSITION = struct.Struct(">Q")
_MAC_BYTES = 12


def resolve_page_size(value: int | None, *, default: int = MAX_PAGE_SIZE) -> int:
    """``page_size`` as asked: unset or 0 means ``default``; 1..100 as is; anything else is refused."""
    if not value:
        return default
    if value < 0 or value > MAX_PAGE_SIZE:
        raise ConnectError(
            Code.INVALID_ARGUMENT, f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {value}"
        )
    return value


class PageTokens:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, listing: str, payload: bytes) -> bytes:
        return hmac.new(self._key, listing.encode() + b"\0" + payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, listing: str, seq: int) -> str:
        payload = _POSITION.pack(seq)
        return base64.urlsafe_b64encode(payload + self._mac(listing, payload)).decode().rstrip("=")

    def decode(self, token: str | None, listing: str) -> int | None:
        """The seq a token continues after, or None for an absent/empty token (the first page)."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        payload, mac = raw[: _POSITION.size], raw[_POSITION.size :]
        if len(payload) != _POSITION.size or not hmac.compare_digest(mac, self._mac(listing, payload)):
            raise ConnectError(Code.INVALID_ARGUMENT, "page_token is not a token this listing issued")
        seq: int = _POSITION.unpack(payload)[0]
        return seq


def page(
    items: Sequence[T],
    seq_of: Callable[[T], int],
    after: int | None,
    size: int,
    *,
    newest_first: bool = False,
) -> tuple[list[T], int | None]:
    """One page of ``items`` (sorted by ascending seq) continuing after seq ``after``.

    Returns the page and the seq to put in the next token, or None when nothing follows.
    """
    if newest_first:
        end = len(items) if after is None else bisect.bisect_left(items, after, key=seq_of)
        start = max(0, end - size)
        chunk = list(reversed(items[start:end]))
        return chunk, (seq_of(chunk[-1]) if start > 0 and chunk else None)
    start = 0 if after is None else bisect.bisect_right(items, after, key=seq_of)
    chunk = list(items[start : start + size])
    return chunk, (seq_of(chunk[-1]) if start + size < len(items) and chunk else None)
