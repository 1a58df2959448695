"""Helpers for the usage-export tests: real warehouses behind Airflow connections, sample
usage replies, and a DB-API proxy that fails on the Nth executemany (fault injection)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pendulum

from airflow_provider_depot._proto.depot.core.v1 import usage_pb2
from airflow_provider_depot.transfers._sql_dialects import Dialect, dialect_for
from airflow_provider_depot.transfers._usage_period import Period
from airflow_provider_depot.transfers._usage_tables import USAGE_TABLES, TableSpec

UTC = dt.timezone.utc
TABLE_NAMES = [
    "depot_usage_container_builds",
    "depot_usage_github_actions_jobs",
    "depot_usage_github_actions_job_details",
    "depot_usage_storage",
    "depot_usage_agent_sandboxes",
    "depot_usage_compute_sandboxes",
    "depot_project_usage",
]
PG_DSN = {"host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": "test"}
MARIADB_DSN = {"host": "127.0.0.1", "port": 3306, "login": "root", "schema": "test"}


def day(n: int) -> dt.datetime:
    """Midnight UTC of day n after 2025-03-01 (negative: before)."""
    return dt.datetime(2025, 3, 1, tzinfo=UTC) + dt.timedelta(days=n)


def day_period(n: int) -> Period:
    """Day n (see ``day``) as an export sub-period."""
    return Period(pendulum.instance(day(n)), pendulum.instance(day(n + 1)))


def connection_env(conn_id: str, value: dict[str, Any]) -> tuple[str, str]:
    """The AIRFLOW_CONN_<ID> variable (name, JSON value) that defines an Airflow connection."""
    return f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value)


@dataclass
class Warehouse:
    """One real database reached through an Airflow connection, with a private namespace."""

    kind: str
    conn_id: str
    schema: str | None
    prefix: str

    def hook(self) -> Any:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(self.conn_id).get_hook()

    @property
    def dialect(self) -> Dialect:
        return dialect_for(self.hook())

    def tables(self) -> dict[str, TableSpec]:
        return {t.name: t.prefixed(self.prefix) for t in USAGE_TABLES}

    def name(self, base: str) -> str:
        return self.dialect.table(self.schema, self.prefix + base)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """``sql`` on a fresh connection (what another reader would see), all rows."""
        hook = self.hook()
        conn = hook.get_conn()
        try:
            cursor = conn if self.kind == "duckdb" else conn.cursor()
            cursor.execute(sql, tuple(params)) if params else cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            conn.close()

    def rows(self, base: str) -> list[tuple[Any, ...]]:
        """Every row of a usage table (its version-1 columns), timestamps as aware UTC, sorted."""
        table = next(t for t in USAGE_TABLES if t.name == base)
        columns = ", ".join(self.dialect.ident(c) for c in table.column_names)
        raw = self.query(f"SELECT {columns} FROM {self.name(base)}")
        return sorted(normalize_row(table, row) for row in raw)

    def all_rows(self) -> dict[str, list[tuple[Any, ...]]]:
        return {t.name: self.rows(t.name) for t in USAGE_TABLES}


def to_utc(value: Any) -> dt.datetime:
    """A timestamp column value read back from any of the warehouses, as aware UTC."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def normalize_row(table: TableSpec, row: Sequence[Any]) -> tuple[Any, ...]:
    out = []
    for column, value in zip(table.columns, row, strict=True):
        if column.kind == "timestamp":
            out.append(to_utc(value))
        elif column.kind in ("integer", "bigint"):
            out.append(int(value))
        else:
            out.append(value)
    return tuple(out)


def usage_reply(
    *,
    projects: Sequence[tuple[str, int, float, float]] = (),
    repos: Sequence[tuple[str, tuple[int, float, float], Sequence[tuple[str, str, int, float, float]]]] = (),
    storage: Sequence[tuple[str, float]] = (),
    agents: Sequence[tuple[str, int, float, float]] = (),
    compute: Sequence[tuple[str, int, int]] = (),
) -> usage_pb2.GetUsageResponse:
    """A GetUsage reply from plain tuples, in the order of the proto fields."""
    reply = usage_pb2.GetUsageResponse()
    for name, count, saved, billed in projects:
        reply.container_build.add(
            project_name=name, build_count=count, minutes_saved=saved, minutes_billed=billed
        )
    for repo, (jobs, elapsed, billed), details in repos:
        entry = reply.github_actions_jobs.add(repo=repo)
        entry.total.job_count, entry.total.minutes_elapsed, entry.total.minutes_billed = jobs, elapsed, billed
        for workflow, runner, count, d_elapsed, d_billed in details:
            entry.jobs.add(
                workflow=workflow,
                runner=runner,
                job_count=count,
                minutes_elapsed=d_elapsed,
                minutes_billed=d_billed,
            )
    for storage_type, gb in storage:
        reply.storage.add(storage_type=storage_type, total_gb=gb)
    for agent_type, count, elapsed, billed in agents:
        reply.agent_sandbox.add(
            agent_type=agent_type, sandboxes_count=count, minutes_elapsed=elapsed, minutes_billed=billed
        )
    for rate_code, count, vcpu in compute:
        reply.compute_sandbox.add(rate_code=rate_code, sandboxes_count=count, vcpu_seconds=vcpu)
    return reply


def many_details(repo: str, count: int) -> usage_pb2.GetUsageResponse:
    """A reply with one repo of ``count`` job details (workflows wf0, wf1, ...)."""
    return usage_reply(
        repos=[(repo, (count, 1.0, 1.0), [(f"wf{i}", "r", 1, 1.0, 1.0) for i in range(count)])]
    )


def project_usage(*rows: tuple[str, int, int, int]) -> list[usage_pb2.ProjectUsage]:
    return [
        usage_pb2.ProjectUsage(project_id=p, build_count=b, build_duration_seconds=d, layer_cache_size_gb=g)
        for p, b, d, g in rows
    ]


class InjectedFault(RuntimeError):
    """Raised by FailingHook in place of a database error."""


class _Budget:
    def __init__(self, executemany_calls: int) -> None:
        self.left = executemany_calls


class _FailingProxy:
    """A DB-API connection or cursor whose executemany fails once the budget is spent."""

    def __init__(self, target: Any, budget: _Budget) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_budget", budget)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def cursor(self) -> _FailingProxy:
        return _FailingProxy(self._target.cursor(), self._budget)

    def executemany(self, sql: str, rows: Any) -> Any:
        if self._budget.left <= 0:
            raise InjectedFault("injected failure in executemany")
        self._budget.left -= 1
        return self._target.executemany(sql, rows)


class FailingHook:
    """A DbApiHook stand-in whose connections fail after ``executemany_calls`` chunks went in."""

    def __init__(self, hook: Any, executemany_calls: int) -> None:
        self._hook = hook
        self._budget = _Budget(executemany_calls)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hook, name)

    def get_conn(self) -> Any:
        return _FailingProxy(self._hook.get_conn(), self._budget)


def _sums(rows: Sequence[tuple[Any, ...]], key: slice, values: slice) -> dict[tuple[Any, ...], list[float]]:
    totals: dict[tuple[Any, ...], list[float]] = {}
    for row in rows:
        acc = totals.setdefault(tuple(row[key]), [0] * len(row[values]))
        for i, value in enumerate(row[values]):
            acc[i] += value
    return {k: v for k, v in totals.items() if any(v)}


def _latest(rows: Sequence[tuple[Any, ...]], key: slice, value: int) -> dict[tuple[Any, ...], Any]:
    """Per key, the value on the latest day that has a row (a level, not a flow)."""
    return {tuple(row[key]): row[value] for row in sorted(rows, key=lambda r: r[0])}


def adds_up(warehouse: Warehouse, client: Any, start: dt.datetime, end: dt.datetime) -> None:
    """Assert that the warehouse's daily rows in [start, end) add up to GetUsage/ListProjectUsage
    over the whole span: sums for flows, the last day's value for levels (storage, layer cache)."""
    import pytest

    whole = client.usage.get_usage(start_at=start, end_at=end)
    projects = list(client.usage.iter_project_usage(start_at=start, end_at=end))

    def rows(base: str) -> list[tuple[Any, ...]]:
        return [r for r in warehouse.rows(base) if start <= r[0] < end]

    def approx(totals: dict[tuple[Any, ...], list[float]]) -> Any:
        return {k: pytest.approx(v, rel=1e-5) for k, v in totals.items()}

    builds = [
        (c.project_name, c.build_count, c.minutes_saved, c.minutes_billed) for c in whole.container_build
    ]
    assert _sums(rows("depot_usage_container_builds"), slice(4, 5), slice(5, 8)) == approx(
        _sums(builds, slice(0, 1), slice(1, 4))
    )
    totals = [
        (g.repo, g.total.job_count, g.total.minutes_elapsed, g.total.minutes_billed)
        for g in whole.github_actions_jobs
    ]
    assert _sums(rows("depot_usage_github_actions_jobs"), slice(4, 5), slice(5, 8)) == approx(
        _sums(totals, slice(0, 1), slice(1, 4))
    )
    details = [
        (g.repo, j.workflow, j.runner, j.job_count, j.minutes_elapsed, j.minutes_billed)
        for g in whole.github_actions_jobs
        for j in g.jobs
    ]
    assert _sums(rows("depot_usage_github_actions_job_details"), slice(4, 7), slice(7, 10)) == approx(
        _sums(details, slice(0, 3), slice(3, 6))
    )
    agents = [
        (a.agent_type, a.sandboxes_count, a.minutes_elapsed, a.minutes_billed) for a in whole.agent_sandbox
    ]
    assert _sums(rows("depot_usage_agent_sandboxes"), slice(4, 5), slice(5, 8)) == approx(
        _sums(agents, slice(0, 1), slice(1, 4))
    )
    compute = [(c.rate_code, c.sandboxes_count, c.vcpu_seconds) for c in whole.compute_sandbox]
    assert _sums(rows("depot_usage_compute_sandboxes"), slice(4, 5), slice(5, 7)) == _sums(
        compute, slice(0, 1), slice(1, 3)
    )
    per_project = [(p.project_id, p.build_count, p.build_duration_seconds) for p in projects]
    assert _sums(rows("depot_project_usage"), slice(4, 5), slice(5, 7)) == _sums(
        per_project, slice(0, 1), slice(1, 3)
    )
    cache = {(p.project_id,): p.layer_cache_size_gb for p in projects}
    assert _latest(rows("depot_project_usage"), slice(4, 5), 7) == cache
    storage = {(s.storage_type,): pytest.approx(s.total_gb) for s in whole.storage}
    assert _latest(rows("depot_usage_storage"), slice(4, 5), 5) == storage
