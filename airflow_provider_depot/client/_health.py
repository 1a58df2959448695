"""Bookkeeping for a BuildKit session's ReportHealth streams, and the alarms it raises.

Depot drops a builder after 5 minutes without health reports, so silence is logged loudly:
a WARNING when a stream first fails, an ERROR each time no report has been confirmed for
``warn_after`` seconds, a WARNING when reports are confirmed again.

A client stream has no per-message acknowledgement. A write only proves the bytes reached the
local socket, and a server, or a proxy that buffers the request, may read the whole stream
before it answers at all, an error included: its reply at the end is the only proof that the
reports arrived. So a report is *unconfirmed* until its stream's reply: an OK reply confirms
the stream's reports, a failed stream's are never confirmed. Silence is measured from the
newest confirmed report (from the session's start before the first). The session keeps each
stream short (see ``_session_core.HealthCadence``) so that replies, and with them the truth,
come regularly. Thread-safe (the sync session calls it from its health thread).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from airflow_provider_depot.connect import ConnectError

logger = logging.getLogger("airflow_provider_depot.client")


class HealthMonitor:
    def __init__(self, *, label: str, warn_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._label = label  # "build <id> linux/amd64": never the token
        self._warn_after = warn_after
        self._clock = clock
        self._lock = threading.Lock()
        self._confirmed = clock()  # when the newest confirmed report was written
        self._unconfirmed: float | None = None  # the same for the open stream's newest report
        self._last_alarm = self._confirmed
        self._failing = False
        self.last_written_at: dt.datetime | None = None  # aware UTC, confirmed or not
        self.reports_written = 0

    @property
    def ok(self) -> bool:
        """False once no report was confirmed for ``warn_after`` seconds."""
        with self._lock:
            return self._clock() - self._confirmed < self._warn_after

    def written(self) -> None:
        """The transport wrote one report of the open stream and asked for the next."""
        with self._lock:
            self.reports_written += 1
            self._unconfirmed = self._clock()
            self.last_written_at = dt.datetime.now(dt.timezone.utc)

    def stream_ended(self, error: BaseException | None) -> None:
        """The open stream is over: answered OK (``error`` None; its reports are confirmed) or failed."""
        with self._lock:
            newest, self._unconfirmed = self._unconfirmed, None
            confirmed = error is None and newest is not None
            if error is None and newest is not None:
                self._confirmed = newest
            first = error is not None and not self._failing
            resumed = confirmed and self._failing
            self._failing = error is not None or (self._failing and not confirmed)
        if first:
            reason = (
                f"{error.code.value}: {error.message}" if isinstance(error, ConnectError) else repr(error)
            )
            logger.warning("Depot health report stream for %s failed (%s); reopening", self._label, reason)
        if resumed:
            logger.warning("Depot health reports for %s are confirmed again", self._label)
        self.check()

    def check(self) -> None:
        """Log an ERROR when no report has been confirmed for ``warn_after`` seconds (once per period)."""
        now = self._clock()
        with self._lock:
            silent = now - self._confirmed
            due = silent >= self._warn_after and now - self._last_alarm >= self._warn_after
            if due:
                self._last_alarm = now
        if due:
            logger.error(
                "No Depot health report confirmed for %s in %.0f s; Depot removes a builder after 300 s "
                "without one",
                self._label,
                silent,
            )
