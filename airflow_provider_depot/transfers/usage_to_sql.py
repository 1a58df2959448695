"""DepotUsageToSqlOperator: Depot usage for a period into SQL tables, replacing that period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, BaseOperator

from airflow_provider_depot.exceptions import run_validation

from ._usage_arguments import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_GRANULARITY,
    USAGE_TABLE_NAMES,
    Granularity,
    check_chunk_size,
    check_granularity,
    check_schema,
    check_table_prefix,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_depot._proto.depot.core.v1 import usage_pb2
    from airflow_provider_depot.hooks.depot import DepotHook

    from ._sql_dialects import Dialect
    from ._sql_writer import WriteResult
    from ._usage_period import Period
    from ._usage_rows import TableRows

ASSET_SCHEME = "depot-usage"


def usage_assets(sql_conn_id: str, schema: str | None, table_prefix: str) -> list[Asset]:
    """One Asset per usage table: ``depot-usage://<sql_conn_id>/[<schema>/]<table>``."""
    location = f"{sql_conn_id}/{schema}" if schema else sql_conn_id
    return [Asset(uri=f"{ASSET_SCHEME}://{location}/{table_prefix}{name}") for name in USAGE_TABLE_NAMES]


def _is_template(*values: object) -> bool:
    return any(isinstance(v, str) and ("{{" in v or "{%" in v) for v in values)


class DepotUsageToSqlOperator(BaseOperator):
    """Export Depot usage for one period into SQL tables, idempotently.

    Writes the GetUsage reply (container builds, GitHub Actions jobs with per-job details,
    storage, agent and compute sandboxes) and ListProjectUsage (all pages) for each UTC
    sub-period into seven tables (see ``_usage_tables``), through any common-sql connection.
    The whole period is replaced in one transaction, so reruns and backfills never duplicate
    rows or show a partial period. Returns the number of rows written per table (XCom).

    :param sql_conn_id: the warehouse connection (any DbApiHook: SQLite, PostgreSQL,
        MySQL/MariaDB, DuckDB, or another that speaks standard SQL).
    :param depot_conn_id: the Depot connection.
    :param start: first instant exported (ISO 8601 or datetime, UTC when naive); with ``end``
        it overrides the run's data interval. Both must lie on ``granularity`` boundaries.
    :param end: end of the period, exclusive.
    :param granularity: unit each row covers: ``hour``, ``day`` (default), ``week``, ``month``.
        Without ``start``/``end`` the period is the whole units of the data interval, or, when
        that interval is empty, the last complete unit before it ends (see ``_usage_period``).
    :param table_prefix: prepended to every table name (lowercase letters, digits, ``_``).
    :param schema: schema (PostgreSQL, DuckDB) or database (MySQL) of the tables; default the
        connection's.
    :param org_id: value of the ``org_id`` column; default the Depot connection's org id, or
        ``''`` when it names none.
    :param chunk_size: rows per ``executemany``.

    Outlets default to one Asset per table (``depot-usage://<sql_conn_id>/[<schema>/]<table>``)
    unless ``sql_conn_id``, ``schema`` or ``table_prefix`` is templated, which leaves them to
    the DAG author.
    """

    template_fields: Sequence[str] = (
        "depot_conn_id",
        "sql_conn_id",
        "start",
        "end",
        "table_prefix",
        "schema",
    )
    ui_color = "#e8f1ff"

    def __init__(
        self,
        *,
        sql_conn_id: str,
        depot_conn_id: str = "depot_default",
        start: str | dt.datetime | None = None,
        end: str | dt.datetime | None = None,
        granularity: str = DEFAULT_GRANULARITY,
        table_prefix: str = "",
        schema: str | None = None,
        org_id: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        **kwargs: Any,
    ) -> None:
        if "outlets" not in kwargs and not _is_template(sql_conn_id, schema, table_prefix):
            kwargs["outlets"] = usage_assets(
                sql_conn_id, check_schema(schema), check_table_prefix(table_prefix)
            )
        super().__init__(**kwargs)
        self.sql_conn_id = sql_conn_id
        self.depot_conn_id = depot_conn_id
        self.start = start
        self.end = end
        self.granularity = check_granularity(granularity)
        self.table_prefix = table_prefix
        self.schema = schema
        self.org_id = org_id
        self.chunk_size = chunk_size

    def execute(self, context: Context) -> dict[str, int]:
        from ._usage_period import resolve_period

        # Everything that can be wrong with the arguments fails here, before any API or SQL call.
        prefix, schema, granularity = run_validation(self._checked)
        dag_run = context.get("dag_run")
        resolved = run_validation(
            lambda: resolve_period(
                granularity=granularity,
                start=self.start or None,
                end=self.end or None,
                data_interval_start=context.get("data_interval_start"),
                data_interval_end=context.get("data_interval_end"),
                run_after=getattr(dag_run, "run_after", None),
            )
        )
        if resolved.period is None:
            self.log.info("Nothing to export: %s.", resolved.reason)
            return {prefix + name: 0 for name in USAGE_TABLE_NAMES}
        period = resolved.period
        self.log.info("Exporting Depot usage for %s: %s.", period, resolved.reason)
        if period.end > dt.datetime.now(dt.timezone.utc):
            self.log.warning("The period ends in the future; its usage is not final yet.")
        return self._export(period, prefix, schema)

    def _checked(self) -> tuple[str, str | None, Granularity]:
        """The table prefix, schema and granularity, after checking every argument."""
        for name in ("sql_conn_id", "depot_conn_id"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty connection id")
        check_chunk_size(self.chunk_size)
        if self.org_id is not None and not isinstance(self.org_id, str):
            raise ValueError(f"org_id must be a string, got {type(self.org_id).__name__}")
        prefix, schema = check_table_prefix(self.table_prefix), check_schema(self.schema)
        return prefix, schema, check_granularity(self.granularity)

    def _export(self, period: Period, prefix: str, schema: str | None) -> dict[str, int]:
        from airflow_provider_depot.hooks.depot import DepotHook

        from ._sql_dialects import dialect_for
        from ._sql_writer import PeriodScope, replace_period
        from ._usage_period import split_period
        from ._usage_schema import ensure_schema
        from ._usage_tables import SCHEMA_VERSION_TABLE, USAGE_TABLES

        tables = {t.name: t.prefixed(prefix) for t in USAGE_TABLES}
        sql_hook = _sql_hook(self.sql_conn_id)
        dialect = dialect_for(sql_hook)
        depot = DepotHook(depot_conn_id=self.depot_conn_id)
        org_id = self.org_id if self.org_id is not None else (depot.config.org_id or "")
        exported_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

        for action in ensure_schema(
            sql_hook,
            dialect,
            schema,
            tables.values(),
            SCHEMA_VERSION_TABLE.prefixed(prefix),
            now=exported_at,
        ):
            self.log.info("Schema: %s", action)
        replies = self._fetch(depot, split_period(period, self.granularity))
        result = replace_period(
            sql_hook,
            dialect,
            schema,
            tables,
            PeriodScope(org_id, period.start, period.end),
            _batches(replies, dialect, org_id, exported_at),
            chunk_size=self.chunk_size,
        )
        self.log.info(
            "Wrote %s into %s (%s):\n%s", period, self.sql_conn_id, dialect.name, _counts_table(result)
        )
        return dict(result.inserted)

    @staticmethod
    def _fetch(
        depot: DepotHook, pieces: list[Period]
    ) -> list[tuple[Period, usage_pb2.GetUsageResponse, list[usage_pb2.ProjectUsage]]]:
        """Every sub-period's replies, read before the write transaction opens (it stays short)."""
        client = depot.get_client()
        try:
            return [
                (
                    piece,
                    client.usage.get_usage(start_at=piece.start, end_at=piece.end),
                    list(client.usage.iter_project_usage(start_at=piece.start, end_at=piece.end)),
                )
                for piece in pieces
            ]
        finally:
            depot.close()


def _sql_hook(conn_id: str) -> Any:
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk import BaseHook

    from airflow_provider_depot.exceptions import DepotParameterError

    hook = BaseHook.get_connection(conn_id).get_hook()  # type: ignore[no-untyped-call]
    if not isinstance(hook, DbApiHook):
        raise DepotParameterError(
            f"sql_conn_id {conn_id!r} is a {type(hook).__name__}, not a SQL (DbApiHook) connection"
        )
    return hook


def _batches(
    replies: list[tuple[Period, usage_pb2.GetUsageResponse, list[usage_pb2.ProjectUsage]]],
    dialect: Dialect,
    org_id: str,
    exported_at: dt.datetime,
) -> Iterator[TableRows]:
    from ._usage_rows import project_usage_rows, usage_rows

    stamp = dialect.timestamp_param(exported_at)
    for piece, usage, projects in replies:
        prefix = (dialect.timestamp_param(piece.start), dialect.timestamp_param(piece.end), org_id, stamp)
        yield from usage_rows(usage, prefix)
        yield project_usage_rows(projects, prefix)


def _counts_table(result: WriteResult) -> str:
    width = max(len(name) for name in result.inserted)
    lines = [f"  {'table':<{width}}  {'rows':>9}  {'replaced':>9}"]
    for name, count in result.inserted.items():
        deleted = result.deleted.get(name, -1)
        lines.append(f"  {name:<{width}}  {count:>9}  {deleted if deleted >= 0 else '?':>9}")
    return "\n".join(lines)
