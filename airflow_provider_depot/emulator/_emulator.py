"""One emulator: its configuration, its state, and the app that serves it.

``Emulator`` wires the Depot state and services into the Connect app, resolves each caller's
bearer token, runs the health reaper (every ``reap_interval`` seconds, and at once whenever the
clock is moved) and, with a state file, saves the state when it changed (every ``save_interval``
seconds, and at shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_depot._proto.moby.buildkit.v1.status_pb2 import StatusResponse

from ._admin import Admin
from ._admin_http import PREFIX, AdminApp
from ._clock import Clock
from ._demo_seed import demo_document
from ._snapshot import load_document, read_document, write_document
from .connect_server import AuditLog, ConnectApp, FaultPlan, FaultRule
from .connect_server._call import bearer_token
from .connect_server._hosting import abort_current_connection, serve
from .depot._builds import get_build, ingest_status
from .depot._leases import EndpointBackend, EndpointBroker, PlaceholderBackend, ProxyBackend
from .depot._state import DepotState
from .depot.services import depot_routes

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "depot-emulator-token"


@dataclass(frozen=True)
class EmulatorConfig:
    """How an emulator behaves. ``seed`` is ``"demo"``, a file path or a parsed document; it is
    ignored when ``state_file`` exists (the saved state wins)."""

    tokens: Sequence[str] = (DEFAULT_TOKEN,)
    seed: str | os.PathLike[str] | Mapping[str, Any] | None = None
    state_file: str | os.PathLike[str] | None = None
    health_timeout: float = 300.0
    buildkit_endpoint: str | None = None
    buildkit_mtls: bool = True
    pending: int = 1
    pending_interval: float = 0.5
    faults: Sequence[FaultRule | Mapping[str, Any]] = ()
    id_seed: int | None = None
    org_name: str = "Emulated organization"
    save_interval: float = 2.0
    reap_interval: float = 1.0
    compress_min_bytes: int = 1024

    def __post_init__(self) -> None:
        if isinstance(self.tokens, str):
            raise ValueError("tokens must be a list of tokens, not one string")
        if any(not isinstance(t, str) or not t.strip() for t in self.tokens):
            raise ValueError("tokens must be non-empty strings")
        for name in ("health_timeout", "save_interval", "reap_interval"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.pending < 0 or self.pending_interval < 0:
            raise ValueError("pending and pending_interval must not be negative")


class Emulator:
    def __init__(self, config: EmulatorConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.clock = clock or Clock()
        self.state = DepotState(self.clock, id_seed=self.config.id_seed)
        self._load_initial_state()
        if not self.state.organizations:
            self.state.add_organization(self.config.org_name)
        org = self.state.default_org()
        for token in self.config.tokens:
            self.state.add_org_token(token, org.org_id)
        self.broker = EndpointBroker(
            self.state,
            self._backend(),
            pending=self.config.pending,
            pending_interval=self.config.pending_interval,
            health_timeout=self.config.health_timeout,
        )
        self.faults = FaultPlan(
            r if isinstance(r, FaultRule) else FaultRule.from_dict(r) for r in self.config.faults
        )
        self.audit = AuditLog()
        self.admin = Admin(self)
        self.app = ConnectApp(
            depot_routes(self.state, self.broker),
            identify=self._identify,
            faults=self.faults,
            audit=self.audit,
            clock_time=self.clock.time,
            abort_connection=abort_current_connection,
            mounts={PREFIX: AdminApp(self)},
            compress_min_bytes=self.config.compress_min_bytes,
        )
        self._saved_version = self.state.version if self._state_file_exists() else -1
        self._reap_on_jump: Callable[[], None] = self._reap_quietly
        self.clock.subscribe(self._reap_on_jump)

    @property
    def token(self) -> str:
        """The first configured organization token."""
        return self.config.tokens[0]

    def _state_file_exists(self) -> bool:
        return self.config.state_file is not None and os.path.exists(self.config.state_file)

    def _load_initial_state(self) -> None:
        seed = self.config.seed
        if self._state_file_exists():
            assert self.config.state_file is not None
            doc: Mapping[str, Any] = read_document(self.config.state_file)
        elif seed == "demo":
            doc = demo_document(self.clock.now().date())
        elif isinstance(seed, Mapping):
            doc = seed
        elif seed is not None:
            doc = read_document(seed)
        else:
            return
        if not doc.get("organizations"):
            self.state.add_organization(self.config.org_name)
        load_document(self.state, doc)

    def _backend(self) -> EndpointBackend:
        endpoint = self.config.buildkit_endpoint
        if endpoint is None:
            return PlaceholderBackend()
        return ProxyBackend(endpoint, self._buildkit_status, mtls=self.config.buildkit_mtls)

    def _buildkit_status(self, build_id: str, status: StatusResponse) -> None:
        """BuildKit progress seen on a build's endpoint becomes the build's steps and logs."""
        build = get_build(self.state, build_id)
        if build is not None:
            ingest_status(self.state, build, [status])

    def _identify(self, headers: Mapping[str, str]) -> tuple[str, object]:
        """The Connect app's identify hook: the kind of token and the principal (never fails:
        whether the caller may do what it asks is the handlers' decision)."""
        token = bearer_token(headers)
        if token is None:
            return "none", None
        principal = self.state.principal_for(token)
        if principal is None:
            return "invalid", None
        return principal.kind.value, principal

    def _reap_quietly(self) -> None:
        try:
            self.broker.reap()
        except Exception:
            log.exception("the health reaper failed")

    # -- persistence ---------------------------------------------------------------------------

    def save_if_changed(self) -> bool:
        """Write the state file when the state moved since the last save; True if it wrote."""
        path = self.config.state_file
        if path is None:
            return False
        with self.state.lock:
            version = self.state.version
            if version == self._saved_version:
                return False
            doc = self.admin.snapshot()
        write_document(path, doc)
        self._saved_version = version
        return True

    # -- serving -------------------------------------------------------------------------------

    async def serve(
        self, sock: socket.socket, shutdown: asyncio.Event, on_ready: Callable[[], None] | None = None
    ) -> None:
        """Serve on the listening ``sock`` until ``shutdown`` is set; then close endpoints and save."""
        loop = asyncio.get_running_loop()
        self.broker.bind_loop(loop)
        chores = [
            loop.create_task(self._every(self.config.reap_interval, self._reap_quietly)),
        ]
        if self.config.state_file is not None:
            chores.append(
                loop.create_task(self._every_in_thread(self.config.save_interval, self.save_if_changed))
            )
        try:
            await serve(self.app, sock, shutdown, on_ready=on_ready)
        finally:
            for chore in chores:
                chore.cancel()
            await asyncio.gather(*chores, return_exceptions=True)
            await self.broker.close_all()
            self.broker.bind_loop(None)
            self.clock.unsubscribe(self._reap_on_jump)
            self.save_if_changed()

    @staticmethod
    async def _every(interval: float, chore: Callable[[], object]) -> None:
        while True:
            await asyncio.sleep(interval)
            chore()

    @staticmethod
    async def _every_in_thread(interval: float, chore: Callable[[], object]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            try:
                await loop.run_in_executor(None, chore)
            except OSError as exc:
                log.warning("could not save the state file: %s", exc)
