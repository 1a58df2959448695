"""Fixtures for the usage-export tests: one real warehouse per dialect, each in a private
namespace (a temp file, a fresh PostgreSQL schema, a unique MariaDB table prefix) removed after
the test. PostgreSQL and MariaDB must be reachable; in CI (CI=true) an unreachable one fails."""

from __future__ import annotations

import http.server
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from required_tools import require_tool
from support.usage_export_support import MARIADB_DSN, PG_DSN, Warehouse, connection_env

WAREHOUSE_KINDS = ["sqlite", "postgres", "mariadb", "duckdb"]


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def _unique(kind: str) -> str:
    return f"t{uuid.uuid4().hex[:10]}_{kind}"


@pytest.fixture
def sqlite_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    conn_id = _unique("sqlite")
    monkeypatch.setenv(*connection_env(conn_id, {"conn_type": "sqlite", "host": str(tmp_path / "usage.db")}))
    return Warehouse("sqlite", conn_id, None, "")


@pytest.fixture
def duckdb_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    conn_id = _unique("duckdb")
    monkeypatch.setenv(
        *connection_env(conn_id, {"conn_type": "duckdb", "host": str(tmp_path / "usage.duckdb")})
    )
    return Warehouse("duckdb", conn_id, None, "")


@pytest.fixture
def postgres_warehouse(monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    require_tool(_reachable("127.0.0.1", 5432), "PostgreSQL is not reachable at 127.0.0.1:5432")
    conn_id = schema = _unique("pg")
    monkeypatch.setenv(*connection_env(conn_id, {"conn_type": "postgres", **PG_DSN}))
    warehouse = Warehouse("postgres", conn_id, schema, "")
    _run(warehouse, f'CREATE SCHEMA "{schema}"')
    yield warehouse
    _run(warehouse, f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def mariadb_warehouse(monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    require_tool(_reachable("127.0.0.1", 3306), "MariaDB is not reachable at 127.0.0.1:3306")
    conn_id = _unique("my")
    monkeypatch.setenv(*connection_env(conn_id, {"conn_type": "mysql", **MARIADB_DSN}))
    warehouse = Warehouse("mariadb", conn_id, None, conn_id + "_")
    yield warehouse
    tables = warehouse.query("SHOW TABLES LIKE %s", (warehouse.prefix.replace("_", "\\_") + "%",))
    for (table,) in tables:
        _run(warehouse, f"DROP TABLE `{table}`")


@pytest.fixture(params=WAREHOUSE_KINDS)
def warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """Each real warehouse in turn."""
    return request.getfixturevalue(f"{request.param}_warehouse")  # type: ignore[no-any-return]


def _run(warehouse: Warehouse, sql: str) -> None:
    hook = warehouse.hook()
    conn = hook.get_conn()
    try:
        conn.cursor().execute(sql)
        conn.commit()
    finally:
        conn.close()


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str]

    def do_POST(self) -> None:
        self.requests.append(self.path)
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recording_depot(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A local HTTP server as ``depot_default`` that records every request path it gets."""
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"requests": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv(
        *connection_env("depot_default", {"conn_type": "depot", "host": host, "password": "tok"})
    )
    yield seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The Depot emulator with its demo seed (90 days of usage up to yesterday), in-process, as
    ``depot_default`` (org id in the connection's extra)."""
    from airflow_provider_depot.emulator import run_emulator

    with run_emulator(seed="demo", pending=0) as emu:
        depot = {
            "conn_type": "depot",
            "host": emu.url,
            "password": emu.token,
            "extra": {"org_id": emu.admin.organization.org_id},
        }
        monkeypatch.setenv(*connection_env("depot_default", depot))
        yield emu
