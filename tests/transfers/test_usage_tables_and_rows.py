"""Table specs, name validation, DDL per dialect, and replies turned into rows."""

from __future__ import annotations

import pytest
from support.usage_export_support import TABLE_NAMES, project_usage, usage_reply

from airflow_provider_depot.transfers._sql_dialects import DUCKDB, MYSQL, POSTGRES, SQLITE, STANDARD
from airflow_provider_depot.transfers._usage_arguments import (
    SCHEMA_VERSION_TABLE_NAME,
    USAGE_TABLE_NAMES,
    check_schema,
    check_table_prefix,
)
from airflow_provider_depot.transfers._usage_rows import project_usage_rows, usage_rows
from airflow_provider_depot.transfers._usage_schema import create_table_sql
from airflow_provider_depot.transfers._usage_tables import (
    GITHUB_ACTIONS_JOB_DETAILS,
    SCHEMA_VERSION,
    SCHEMA_VERSION_TABLE,
    USAGE_TABLES,
    Column,
)
from airflow_provider_depot.transfers.usage_to_sql import usage_assets


def test_the_seven_tables_share_period_columns_and_keys() -> None:
    assert [t.name for t in USAGE_TABLES] == TABLE_NAMES
    assert list(USAGE_TABLE_NAMES) == TABLE_NAMES  # the light list the DAG-parse path reads
    assert SCHEMA_VERSION_TABLE.name == SCHEMA_VERSION_TABLE_NAME == "depot_usage_schema_version"
    assert SCHEMA_VERSION == 1
    for table in USAGE_TABLES:
        assert table.column_names[:4] == ("period_start", "period_end", "org_id", "exported_at")
        assert table.primary_key[:2] == ("org_id", "period_start")
        assert len(set(table.column_names)) == len(table.column_names)


def test_mysql_keys_fit_innodb_limit() -> None:
    # utf8mb4: 4 bytes a character; DATETIME 8 bytes; InnoDB's limit is 3072 bytes.
    for table in USAGE_TABLES:
        by_name = {c.name: c for c in table.columns}
        size = sum(4 * by_name[k].max_length if by_name[k].kind == "text" else 8 for k in table.primary_key)
        assert size <= 3072, table.name


def test_columns_added_later_must_be_nullable() -> None:
    with pytest.raises(ValueError, match="column region added in version 2 must be nullable"):
        Column("region", "text", since=2)


@pytest.mark.parametrize("prefix", ["", "acme_", "a1_b2_"])
def test_good_prefixes(prefix: str) -> None:
    assert check_table_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["Acme_", "1abc_", "a-b_", "a b", "x;drop table y", "_x", "é_"])
def test_bad_prefix_characters_are_named(prefix: str) -> None:
    with pytest.raises(ValueError, match=r"table_prefix .* may hold only lowercase letters"):
        check_table_prefix(prefix)


def test_too_long_prefix_is_named() -> None:
    with pytest.raises(ValueError, match=r"table_prefix .* is too long: at most 25 characters"):
        check_table_prefix("a" * 26)


@pytest.mark.parametrize("schema", ["public", "Analytics", "_x1"])
def test_good_schemas(schema: str) -> None:
    assert check_schema(schema) == schema
    assert check_schema("") is None and check_schema(None) is None


@pytest.mark.parametrize("schema", ["a.b", "a-b", '"x"', "1x", 5])
def test_bad_schema_is_named(schema: object) -> None:
    with pytest.raises(ValueError, match="schema must be a plain SQL identifier"):
        check_schema(schema)


def test_ddl_per_dialect() -> None:
    details = GITHUB_ACTIONS_JOB_DETAILS.prefixed("acme_")
    pg = create_table_sql(POSTGRES, "usage", details)
    assert pg.startswith('CREATE TABLE "usage"."acme_depot_usage_github_actions_job_details" (')
    assert (
        '"period_start" TIMESTAMP WITH TIME ZONE NOT NULL' in pg and '"minutes_billed" DOUBLE PRECISION' in pg
    )
    assert 'PRIMARY KEY ("org_id", "period_start", "repo", "workflow", "runner")' in pg
    my = create_table_sql(MYSQL, None, details)
    assert "`runner` VARCHAR(160) NOT NULL" in my and "`period_start` DATETIME NOT NULL" in my
    assert my.endswith(") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
    lite = create_table_sql(SQLITE, None, details)
    assert '"period_start" TEXT NOT NULL' in lite and '"minutes_billed" REAL NOT NULL' in lite
    assert '"vcpu_seconds" BIGINT' in create_table_sql(DUCKDB, None, USAGE_TABLES[5])
    std = create_table_sql(STANDARD, None, details)
    assert '"workflow" VARCHAR(255) NOT NULL' in std and '"period_end" TIMESTAMP NOT NULL' in std


def test_reply_becomes_rows_in_column_order() -> None:
    reply = usage_reply(
        projects=[("web", 3, 1.5, 2.5)],
        repos=[("acme/a", (2, 3.0, 4.0), [("ci", "linux", 2, 3.0, 4.0)]), ("acme/b", (0, 0.0, 0.0), [])],
        storage=[("cache", 7.25)],
        agents=[("claude", 1, 2.0, 3.0)],
        compute=[("std", 4, 99)],
    )
    head = ("S", "E", "org", "X")
    rows = {name: list(r) for name, r in usage_rows(reply, head)}
    assert rows == {
        "depot_usage_container_builds": [(*head, "web", 3, 1.5, 2.5)],
        "depot_usage_github_actions_jobs": [(*head, "acme/a", 2, 3.0, 4.0), (*head, "acme/b", 0, 0.0, 0.0)],
        "depot_usage_github_actions_job_details": [(*head, "acme/a", "ci", "linux", 2, 3.0, 4.0)],
        "depot_usage_storage": [(*head, "cache", 7.25)],
        "depot_usage_agent_sandboxes": [(*head, "claude", 1, 2.0, 3.0)],
        "depot_usage_compute_sandboxes": [(*head, "std", 4, 99)],
    }
    for name, table_rows in rows.items():
        width = len(next(t for t in USAGE_TABLES if t.name == name).columns)
        assert all(len(r) == width for r in table_rows)


def test_items_sharing_a_natural_key_are_summed() -> None:
    reply = usage_reply(
        projects=[("web", 1, 1.0, 2.0), ("api", 5, 0.0, 0.0), ("web", 2, 0.5, 0.25)],
        repos=[
            ("acme/a", (1, 1.0, 1.0), [("ci", "linux", 1, 1.0, 1.0), ("ci", "arm", 4, 4.0, 4.0)]),
            ("acme/b", (1, 2.0, 2.0), [("ci", "linux", 1, 2.0, 2.0)]),
            ("acme/a", (2, 3.0, 3.0), [("ci", "linux", 2, 3.0, 3.0)]),
        ],
        compute=[("std", 1, 10), ("std", 2, 2**40)],
    )
    head = ("S", "E", "o", "X")
    rows = {name: list(r) for name, r in usage_rows(reply, head)}
    assert rows["depot_usage_container_builds"] == [(*head, "web", 3, 1.5, 2.25), (*head, "api", 5, 0.0, 0.0)]
    assert rows["depot_usage_github_actions_jobs"] == [
        (*head, "acme/a", 3, 4.0, 4.0),
        (*head, "acme/b", 1, 2.0, 2.0),
    ]
    assert rows["depot_usage_github_actions_job_details"] == [
        (*head, "acme/a", "ci", "linux", 3, 4.0, 4.0),
        (*head, "acme/a", "ci", "arm", 4, 4.0, 4.0),
        (*head, "acme/b", "ci", "linux", 1, 2.0, 2.0),
    ]
    assert rows["depot_usage_compute_sandboxes"] == [(*head, "std", 3, 10 + 2**40)]


def test_table_specs_put_keys_first_then_measures() -> None:
    from airflow_provider_depot.transfers._usage_tables import _usage_table

    with pytest.raises(ValueError, match=r"key columns .* must come first, then numeric measures"):
        _usage_table("t", ("b",), Column("a", "integer"), Column("b", "text"))


def test_a_repo_without_totals_reads_as_zeros() -> None:
    reply = usage_reply()
    reply.github_actions_jobs.add(repo="acme/bare")
    rows = dict(usage_rows(reply, ("S", "E", "", "X")))
    assert list(rows["depot_usage_github_actions_jobs"]) == [("S", "E", "", "X", "acme/bare", 0, 0.0, 0.0)]


def test_project_usage_rows() -> None:
    name, rows = project_usage_rows(project_usage(("p1", 1, 2, 3)), ("S", "E", "o", "X"))
    assert name == "depot_project_usage"
    assert list(rows) == [("S", "E", "o", "X", "p1", 1, 2, 3)]


def test_assets_per_table() -> None:
    assets = usage_assets("warehouse", None, "acme_")
    assert [a.uri for a in assets] == [f"depot-usage://warehouse/acme_{n}" for n in TABLE_NAMES]
    assert (
        usage_assets("wh", "analytics", "")[0].uri
        == "depot-usage://wh/analytics/depot_usage_container_builds"
    )
