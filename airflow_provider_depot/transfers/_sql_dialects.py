"""What differs between the SQL warehouses the usage export writes to.

Chosen from the DbApiHook's ``dialect_name``: SQLite, PostgreSQL, MySQL/MariaDB and DuckDB get
their own column types and transaction handling; any other hook gets standard SQL (VARCHAR,
DOUBLE PRECISION, TIMESTAMP, driver-managed transactions), which most DB-API drivers accept.

Timestamps are stored as UTC: ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL, naive UTC
``DATETIME``/``TIMESTAMP`` on MySQL, DuckDB and the standard fallback, and ISO text
``YYYY-MM-DD HH:MM:SS`` on SQLite (which has no timestamp type; that text sorts and compares
correctly and SQLite's date functions read it).

Transactions: SQLite's driver only opens transactions implicitly before DML, so it is switched
to manual mode and given ``BEGIN IMMEDIATE`` (taking the write lock up front). DuckDB's Python
connection autocommits each statement, and its ``cursor()`` is a separate connection, so it gets
an explicit ``BEGIN TRANSACTION`` and the connection itself serves as the cursor. Other drivers
open a transaction on the first statement once autocommit is off.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._usage_tables import Column, ColumnKind


def _sqlite_text(instant: dt.datetime) -> str:
    return instant.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _aware_utc(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(dt.timezone.utc)


def _naive_utc(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Dialect:
    name: str
    #: Column types; ``{length}`` is filled from Column.max_length.
    types: Mapping[ColumnKind, str]
    timestamp_param: Callable[[dt.datetime], Any]
    quote: str = '"'
    table_options: str = ""
    #: Statement that opens the export's transaction, when the driver does not do it.
    begin_statement: str | None = None
    manual_sqlite_transactions: bool = False
    cursor_is_connection: bool = False
    #: The driver commits each statement itself unless begin() opened a transaction.
    autocommits: bool = False

    def ident(self, name: str) -> str:
        """``name`` quoted (names are validated plain identifiers, so no escaping is needed)."""
        return f"{self.quote}{name}{self.quote}"

    def table(self, schema: str | None, name: str) -> str:
        return f"{self.ident(schema)}.{self.ident(name)}" if schema else self.ident(name)

    def column_type(self, column: Column) -> str:
        return self.types[column.kind].format(length=column.max_length)

    def open_cursor(self, conn: Any) -> Any:
        return conn if self.cursor_is_connection else conn.cursor()

    def commit_outside_export(self, conn: Any) -> None:
        """Commit schema work (no-op where every statement commits itself)."""
        if not self.autocommits:
            conn.commit()

    def rollback_outside_export(self, conn: Any) -> None:
        if not self.autocommits:
            conn.rollback()

    def begin(self, hook: Any, conn: Any, cursor: Any) -> None:
        """Start the export's single transaction on ``conn``."""
        if self.manual_sqlite_transactions:
            conn.isolation_level = None
        elif self.begin_statement is None and getattr(hook, "supports_autocommit", False):
            hook.set_autocommit(conn, False)
        if self.begin_statement:
            cursor.execute(self.begin_statement)


SQLITE = Dialect(
    "sqlite",
    {"text": "TEXT", "integer": "INTEGER", "bigint": "INTEGER", "double": "REAL", "timestamp": "TEXT"},
    _sqlite_text,
    begin_statement="BEGIN IMMEDIATE",
    manual_sqlite_transactions=True,
)
POSTGRES = Dialect(
    "postgresql",
    {
        "text": "TEXT",
        "integer": "INTEGER",
        "bigint": "BIGINT",
        "double": "DOUBLE PRECISION",
        "timestamp": "TIMESTAMP WITH TIME ZONE",
    },
    _aware_utc,
)
MYSQL = Dialect(
    "mysql",
    {
        "text": "VARCHAR({length})",
        "integer": "INT",
        "bigint": "BIGINT",
        "double": "DOUBLE",
        "timestamp": "DATETIME",
    },
    _naive_utc,
    quote="`",
    # Binary collation: project and repo names that differ only in case or accents stay distinct keys.
    table_options=" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
)
DUCKDB = Dialect(
    "duckdb",
    {
        "text": "VARCHAR",
        "integer": "INTEGER",
        "bigint": "BIGINT",
        "double": "DOUBLE",
        "timestamp": "TIMESTAMP",
    },
    _naive_utc,
    begin_statement="BEGIN TRANSACTION",
    cursor_is_connection=True,
    autocommits=True,
)
STANDARD = Dialect(
    "standard",
    {
        "text": "VARCHAR({length})",
        "integer": "INTEGER",
        "bigint": "BIGINT",
        "double": "DOUBLE PRECISION",
        "timestamp": "TIMESTAMP",
    },
    _naive_utc,
)

_BY_HOOK_DIALECT = {
    "sqlite": SQLITE,
    "postgresql": POSTGRES,
    "postgres": POSTGRES,
    "mysql": MYSQL,
    "mariadb": MYSQL,
    "duckdb": DUCKDB,
}


def dialect_for(hook: Any) -> Dialect:
    """The dialect for a DbApiHook, standard SQL when its ``dialect_name`` is not one we know."""
    try:
        name = str(hook.dialect_name)
    except Exception:  # a hook whose URI cannot be built still writes with standard SQL
        name = ""
    return _BY_HOOK_DIALECT.get(name.lower(), STANDARD)
