"""Bookkeeping for a BuildKit session's ReportHealth stream, and the alarms it raises.

Depot drops a builder after 5 minutes without health reports, so silence is logged loudly:
a WARNING when the stream first fails, an ERROR each time no report has gone out for
``warn_after`` seconds, a WARNING when reports flow again.

A client stream has no per-message acknowledgement, and a write only proves the bytes reached
the local socket: httpx reads the reply only after the body, so a server that refuses a stream
is noticed when the connection breaks, two to four writes later (measured against hypercorn,
HTTP/1.1 and h2c). So a report is *tentative* for ``warn_after / 2`` after it is
written, and firm once older (or once its stream ends cleanly); when its stream fails, the
tentative reports are taken back. Silence is measured from the last firm report: a stream
refused at once earns nothing and the silence grows across reopens, one that ran for an hour
keeps all but its tail. ``warn_after >= 4 * interval`` (the session checks it) keeps a healthy
stream's firm reports under ``3/4 * warn_after`` old. Thread-safe (the sync session calls it
from its health thread).
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import time

from airflow_provider_depot.connect import ConnectError

logger = logging.getLogger("airflow_provider_depot.client")

_Report = tuple[float, "dt.datetime | None"]  # (monotonic, wall clock) of a written report


class HealthMonitor:
    def __init__(self, *, label: str, warn_after: float) -> None:
        self._label = label  # "build <id> linux/amd64": never the token
        self._probation = warn_after / 2
        self._warn_after = warn_after
        self._lock = threading.Lock()
        self._firm: _Report = (time.monotonic(), None)  # silence is counted from the session's start
        self._tentative: collections.deque[_Report] = collections.deque()
        self._last_alarm = self._firm[0]
        self._failing = False
        self.reports_written = 0

    @property
    def ok(self) -> bool:
        """False once no report was confirmed for ``warn_after`` seconds."""
        with self._lock:
            return time.monotonic() - self._firm[0] < self._warn_after

    @property
    def last_sent_at(self) -> dt.datetime | None:
        """When the newest report was written (confirmed or not)."""
        with self._lock:
            return (self._tentative[-1] if self._tentative else self._firm)[1]

    def sent(self) -> None:
        """The transport wrote one report and asked for the next."""
        now = time.monotonic()
        with self._lock:
            self.reports_written += 1
            self._tentative.append((now, dt.datetime.now(dt.timezone.utc)))
            confirmed = False
            while now - self._tentative[0][0] > self._probation:
                self._firm = self._tentative.popleft()
                confirmed = True
            resumed = confirmed and self._failing
            self._failing = self._failing and not resumed
        if resumed:
            logger.warning("Depot health reports for %s flow again", self._label)

    def stream_ended(self, error: BaseException | None) -> None:
        """A ReportHealth stream is over: accepted (``error`` None) or failed; the caller reopens it."""
        with self._lock:
            if error is None and self._tentative:
                self._firm = self._tentative[-1]
            self._tentative.clear()
            first = error is not None and not self._failing
            self._failing = self._failing or error is not None
        if first:
            reason = (
                f"{error.code.value}: {error.message}" if isinstance(error, ConnectError) else repr(error)
            )
            logger.warning("Depot health report stream for %s failed (%s); reopening", self._label, reason)
        self.check()

    def check(self) -> None:
        """Log an ERROR when reports have been missing for ``warn_after`` seconds (once per period)."""
        now = time.monotonic()
        with self._lock:
            silent = now - self._firm[0]
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
