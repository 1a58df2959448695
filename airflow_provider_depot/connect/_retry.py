"""When a failed call may be sent again, and after how long (WIRE.md section 2, retry safety)."""

from __future__ import annotations

import random
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from ._codes import Code
from ._errors import ConnectError

RETRYABLE_CODES = frozenset({Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED})
# A server asking for a longer pause than this is not waited for: the error (with its
# ``retry_after``) goes to the caller, who can reschedule instead of blocking a worker.
RETRY_AFTER_MAX = 60.0

# Failures raised before the request left this machine: no server can have acted on it.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def never_sent(exc: BaseException) -> bool:
    """True if ``exc`` proves the request never reached a server (so any method may be resent)."""
    return isinstance(exc, _UNSENT)


def certificate_rejected(exc: BaseException) -> bool:
    """True if the server's TLS certificate was not trusted: sending again cannot help."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Jittered exponential backoff, bounded by attempts and by the call's deadline."""

    max_retries: int
    backoff_base: float
    backoff_max: float

    def pause(
        self,
        *,
        retries_done: int,
        error: ConnectError,
        unsent: bool,
        idempotent: bool,
        remaining: float | None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when the error is final.

        Resent: (a) a request that never reached the server, on any method; (b) a read
        (``idempotent``) answered ``unavailable`` or ``resource_exhausted``, or whose
        transport failed after sending. A mutating call that may have reached the server is
        never resent.
        """
        if retries_done >= self.max_retries:
            return None
        if not (unsent or (idempotent and error.code in RETRYABLE_CODES)):
            return None
        if error.retry_after is not None:
            if error.retry_after > RETRY_AFTER_MAX:
                return None
            delay = error.retry_after
        else:
            ceiling = min(self.backoff_max, self.backoff_base * (2**retries_done))
            delay = ceiling * (0.5 + random.random() / 2)
        if remaining is not None and delay >= remaining:
            return None
        return delay
