"""The emulator's clock: wall time by default, shifted or frozen by tests.

Every timestamp the emulator hands out (created_at, pushed_at, health deadlines, audit times)
comes from one ``Clock``. ``advance`` and ``set`` notify listeners synchronously, in the caller's
thread, so an expiry that a jump makes due (the health reaper) has happened when they return.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable

UTC = datetime.timezone.utc


class Clock:
    """``now() = wall time + offset``, or a fixed instant while frozen.

    ``start`` (aware datetime) starts the clock at that instant instead of the wall time; with
    ``frozen=True`` it stays there until advanced or unfrozen.
    """

    def __init__(self, start: datetime.datetime | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._offset = 0.0 if start is None else _epoch(start) - time.time()
        self._frozen_at: float | None = None
        if frozen:
            self.freeze()

    def time(self) -> float:
        """Seconds since the Unix epoch."""
        frozen = self._frozen_at
        return frozen if frozen is not None else time.time() + self._offset

    def now(self) -> datetime.datetime:
        """The current instant, timezone-aware UTC."""
        return datetime.datetime.fromtimestamp(self.time(), UTC)

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def freeze(self) -> None:
        """Stop the clock at the current instant."""
        with self._lock:
            if self._frozen_at is None:
                self._frozen_at = time.time() + self._offset

    def unfreeze(self) -> None:
        """Let the clock run again from where it stands."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - time.time()
                self._frozen_at = None

    def advance(self, seconds: float) -> None:
        """Jump ``seconds`` forward (negative jumps are refused: time never runs backwards)."""
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError(f"seconds must be a non-negative number, got {seconds!r}")
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds
        self._notify()

    def set(self, when: datetime.datetime) -> None:
        """Jump to ``when`` (an aware datetime, not earlier than now)."""
        target = _epoch(when)
        if target < self.time():
            raise ValueError(f"when must not be earlier than the clock's current time, got {when!r}")
        self.advance(target - self.time())

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every jump."""
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


def _epoch(when: datetime.datetime) -> float:
    if not isinstance(when, datetime.datetime) or when.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got {when!r}")
    return when.timestamp()
