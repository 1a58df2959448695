"""Replacing one period of usage rows in a single transaction, streaming the new rows in chunks.

The export opens its own connection from the DbApiHook (``get_conn()``), deletes the period's
rows from every table, inserts the new ones with ``executemany`` per chunk, and commits once.
Any error, or the process dying, before that commit leaves the old rows as they were and none
of the new ones visible: the database rolls back an uncommitted transaction when its
connection goes away. (common-sql's ``insert_rows`` commits every chunk, which is why it is not
used here.)

The period's rows are those of ``org_id`` whose ``period_start`` lies in [start, end). Because
periods are whole granularity units (see ``_usage_period``), that is exactly the set a previous
export of the same period wrote.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from ._sql_dialects import Dialect
from ._usage_arguments import DEFAULT_CHUNK_SIZE
from ._usage_rows import Row, TableRows
from ._usage_tables import TableSpec


@dataclass(frozen=True)
class PeriodScope:
    """Whose rows, over which [start, end), a replace covers."""

    org_id: str
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class WriteResult:
    """Rows inserted and rows deleted (-1 where the driver does not say) per table name."""

    inserted: dict[str, int]
    deleted: dict[str, int]


def delete_sql(dialect: Dialect, schema: str | None, table: TableSpec, placeholder: str) -> str:
    org, start = dialect.ident("org_id"), dialect.ident("period_start")
    return (
        f"DELETE FROM {dialect.table(schema, table.name)} "
        f"WHERE {org} = {placeholder} AND {start} >= {placeholder} AND {start} < {placeholder}"
    )


def insert_sql(dialect: Dialect, schema: str | None, table: TableSpec, placeholder: str) -> str:
    columns = ", ".join(dialect.ident(name) for name in table.column_names)
    values = ", ".join([placeholder] * len(table.column_names))
    return f"INSERT INTO {dialect.table(schema, table.name)} ({columns}) VALUES ({values})"


def chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def replace_period(
    hook: Any,
    dialect: Dialect,
    schema: str | None,
    tables: Mapping[str, TableSpec],
    scope: PeriodScope,
    batches: Iterable[TableRows],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> WriteResult:
    """Replace ``scope``'s rows in every table of ``tables`` with ``batches``, atomically.

    ``tables`` maps each usage table's base name (what the row builders yield) to the table
    actually written (prefix applied); ``batches`` is consumed lazily inside the transaction.
    """
    placeholder = hook.placeholder
    inserted = {table.name: 0 for table in tables.values()}
    deleted: dict[str, int] = {}
    bounds = (scope.org_id, dialect.timestamp_param(scope.start), dialect.timestamp_param(scope.end))
    conn = hook.get_conn()
    try:
        cursor = dialect.open_cursor(conn)
        dialect.begin(hook, conn, cursor)
        for table in tables.values():
            cursor.execute(delete_sql(dialect, schema, table, placeholder), bounds)
            deleted[table.name] = cursor.rowcount
        statements = {name: insert_sql(dialect, schema, table, placeholder) for name, table in tables.items()}
        for name, rows in batches:
            for chunk in chunks(rows, chunk_size):
                cursor.executemany(statements[name], chunk)
                inserted[tables[name].name] += len(chunk)
        conn.commit()
    except BaseException:
        # A failing rollback (connection already gone) must not hide the original error; the
        # server discards the uncommitted transaction with the connection anyway.
        with contextlib.suppress(Exception):
            conn.rollback()
        raise
    finally:
        conn.close()
    return WriteResult(inserted, deleted)
