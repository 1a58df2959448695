"""The emulator inside a test process: served from a background thread on a free port.

with run_emulator(seed="demo", pending=0) as emu:
    client = DepotClient(token=emu.token, base_url=emu.url)
    emu.admin.create_project("api")      # direct state access
    emu.clock.advance(301)               # move time; the health reaper runs at once
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from ._admin import Admin
from ._clock import Clock
from ._emulator import Emulator, EmulatorConfig
from .connect_server._hosting import bind_socket

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 30.0


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class EmulatorHandle:
    """A running emulator: ``url``, ``token`` (an org token), ``admin``, ``clock``; ``stop()``."""

    def __init__(self, emulator: Emulator, sock: socket.socket) -> None:
        self.emulator = emulator
        self.url = base_url(sock)
        self._sock = sock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._shutdown: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="depot-emulator", daemon=True)

    @property
    def admin(self) -> Admin:
        return self.emulator.admin

    @property
    def clock(self) -> Clock:
        return self.emulator.clock

    @property
    def token(self) -> str:
        return self.emulator.token

    def env(self) -> dict[str, str]:
        """What the official clients read: ``DEPOT_API_URL`` and ``DEPOT_TOKEN``."""
        return {"DEPOT_API_URL": self.url, "DEPOT_TOKEN": self.token}

    def _start(self) -> None:
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the emulator did not start within 30 s")
        if self._error is not None:
            raise RuntimeError(f"the emulator failed to start: {self._error}") from self._error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._shutdown = asyncio.Event()
            loop.run_until_complete(self.emulator.serve(self._sock, self._shutdown, on_ready=self._ready.set))
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()
            self._sock.close()
            loop.close()

    def stop(self) -> None:
        """Stop serving, close endpoints, save the state file (if any); idempotent."""
        loop, shutdown = self._loop, self._shutdown
        if loop is not None and shutdown is not None and self._thread.is_alive():
            loop.call_soon_threadsafe(shutdown.set)
        self._thread.join(_STOP_TIMEOUT)
        if self._thread.is_alive():
            raise RuntimeError("the emulator did not stop within 30 s")

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_emulator(
    config: EmulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
    **options: Any,
) -> EmulatorHandle:
    """Start an emulator in a background thread; ``options`` are ``EmulatorConfig`` fields."""
    if config is not None and options:
        raise ValueError("give either config or EmulatorConfig fields as keywords, not both")
    emulator = Emulator(config or EmulatorConfig(**options), clock=clock)
    handle = EmulatorHandle(emulator, bind_socket(host, port))
    handle._start()
    return handle


@contextmanager
def run_emulator(
    config: EmulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
    **options: Any,
) -> Iterator[EmulatorHandle]:
    """``start_emulator`` as a context manager that stops the emulator on exit."""
    handle = start_emulator(config, host=host, port=port, clock=clock, **options)
    try:
        yield handle
    finally:
        handle.stop()
