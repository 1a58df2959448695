"""Creating the usage tables and bringing them up to the current schema version.

Every run checks every table (one ``SELECT * ... WHERE 1=0`` each, which works on any DB-API
driver and tells the columns through ``cursor.description``), creates the missing ones, adds
missing columns, and records each schema version not yet in the version table. Each DDL
statement is committed on its own: MySQL commits DDL implicitly anyway, and a failed probe must
be rolled back on PostgreSQL without undoing what came before. Every step is idempotent, so two
runs migrating at once converge (the loser of a race fails and succeeds on its retry).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from ._sql_dialects import Dialect
from ._usage_tables import MIGRATIONS, SCHEMA_VERSION, Column, TableSpec


def create_table_sql(dialect: Dialect, schema: str | None, table: TableSpec) -> str:
    columns = [
        f"{dialect.ident(c.name)} {dialect.column_type(c)}{'' if c.nullable else ' NOT NULL'}"
        for c in table.columns
    ]
    key = ", ".join(dialect.ident(name) for name in table.primary_key)
    body = ",\n  ".join([*columns, f"PRIMARY KEY ({key})"])
    return f"CREATE TABLE {dialect.table(schema, table.name)} (\n  {body}\n){dialect.table_options}"


def add_column_sql(dialect: Dialect, schema: str | None, table: TableSpec, column: Column) -> str:
    return (
        f"ALTER TABLE {dialect.table(schema, table.name)} "
        f"ADD COLUMN {dialect.ident(column.name)} {dialect.column_type(column)}"
    )


def ensure_schema(
    hook: Any,
    dialect: Dialect,
    schema: str | None,
    tables: Iterable[TableSpec],
    version_table: TableSpec,
    *,
    now: dt.datetime,
    version: int = SCHEMA_VERSION,
    migrations: Mapping[int, str] = MIGRATIONS,
) -> list[str]:
    """Create/extend ``tables`` and ``version_table``; returns what was done, for the log.

    ``version_table`` must have the columns (version, description, applied_at). ``version`` and
    ``migrations`` are parameters so that a test can migrate to a synthetic later version.
    """
    conn = hook.get_conn()
    try:
        cursor = dialect.open_cursor(conn)
        done: list[str] = []
        for table in (version_table, *tables):
            done.extend(_ensure_table(conn, cursor, dialect, schema, table))
        done.extend(
            _record_versions(
                conn, cursor, dialect, schema, version_table, hook.placeholder, now, version, migrations
            )
        )
        return done
    finally:
        conn.close()


def _ensure_table(
    conn: Any, cursor: Any, dialect: Dialect, schema: str | None, table: TableSpec
) -> list[str]:
    existing = _existing_columns(conn, cursor, dialect, schema, table)
    if existing is None:
        cursor.execute(create_table_sql(dialect, schema, table))
        dialect.commit_outside_export(conn)
        return [f"created table {table.name}"]
    done = []
    for column in table.columns:
        if column.name not in existing:
            cursor.execute(add_column_sql(dialect, schema, table, column))
            dialect.commit_outside_export(conn)
            done.append(f"added column {table.name}.{column.name}")
    return done


def _existing_columns(
    conn: Any, cursor: Any, dialect: Dialect, schema: str | None, table: TableSpec
) -> set[str] | None:
    """The table's column names (lowercase), or None when the table does not exist."""
    try:
        cursor.execute(f"SELECT * FROM {dialect.table(schema, table.name)} WHERE 1 = 0")
        cursor.fetchall()
    except Exception:  # the driver's "no such table"; each driver names it differently
        dialect.rollback_outside_export(conn)
        return None
    return {str(d[0]).lower() for d in cursor.description}


def _record_versions(
    conn: Any,
    cursor: Any,
    dialect: Dialect,
    schema: str | None,
    version_table: TableSpec,
    placeholder: str,
    now: dt.datetime,
    version: int,
    migrations: Mapping[int, str],
) -> list[str]:
    name = dialect.table(schema, version_table.name)
    cursor.execute(f"SELECT {dialect.ident('version')} FROM {name}")
    applied = {int(row[0]) for row in cursor.fetchall()}
    insert = (
        f"INSERT INTO {name} ({', '.join(dialect.ident(c) for c in version_table.column_names)}) "
        f"VALUES ({', '.join([placeholder] * 3)})"
    )
    done = []
    for number in sorted(set(migrations) - applied):
        if number <= version:
            cursor.execute(insert, (number, migrations[number], dialect.timestamp_param(now)))
            done.append(f"recorded schema version {number}")
    dialect.commit_outside_export(conn)
    newer = [n for n in applied if n > version]
    if newer:
        done.append(f"warehouse is at schema version {max(newer)}, newer than this provider's {version}")
    return done
