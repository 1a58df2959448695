"""The audit log: one entry per RPC the emulator answered (admin calls are not recorded).

An entry names the kind of credential the call carried, never the credential itself.
"""

from __future__ import annotations

import datetime
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

UTC = datetime.timezone.utc


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    time: float
    procedure: str
    token_kind: str
    code: str
    http_status: int
    fault: str | None
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": datetime.datetime.fromtimestamp(self.time, UTC).isoformat().replace("+00:00", "Z"),
            "procedure": self.procedure,
            "token_kind": self.token_kind,
            "code": self.code,
            "http_status": self.http_status,
            "fault": self.fault,
            "duration_ms": round(self.duration_ms, 3),
        }


class AuditLog:
    """A bounded, thread-safe log; the oldest entries go once ``max_entries`` is reached.

    ``seq`` numbers every call from 1 and keeps counting after ``clear()``, so a reader can ask
    for what came after the last entry it saw.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: deque[AuditEntry] = deque(maxlen=max_entries)
        self._lock = threading.Lock()
        self._seq = 0

    def record(
        self,
        *,
        time: float,
        procedure: str,
        token_kind: str,
        code: str,
        http_status: int,
        fault: str | None,
        duration_ms: float,
    ) -> None:
        with self._lock:
            self._seq += 1
            self._entries.append(
                AuditEntry(self._seq, time, procedure, token_kind, code, http_status, fault, duration_ms)
            )

    def entries(self, since: int = 0) -> list[AuditEntry]:
        """Entries with ``seq > since``, oldest first."""
        with self._lock:
            return [e for e in self._entries if e.seq > since]

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._seq

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
