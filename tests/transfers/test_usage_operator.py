"""DepotUsageToSqlOperator: arguments, outlets, and validation before any API or SQL call."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import Asset
from support.usage_export_support import TABLE_NAMES

from airflow_provider_depot.transfers.usage_to_sql import DepotUsageToSqlOperator

UTC = dt.timezone.utc


def context(start: dt.datetime | None, end: dt.datetime | None, run_after: dt.datetime) -> Any:
    return {
        "data_interval_start": start,
        "data_interval_end": end,
        "dag_run": SimpleNamespace(run_after=run_after),
    }


def test_template_fields() -> None:
    assert DepotUsageToSqlOperator.template_fields == (
        "depot_conn_id",
        "sql_conn_id",
        "start",
        "end",
        "table_prefix",
        "schema",
    )


def test_outlets_are_one_asset_per_table() -> None:
    op = DepotUsageToSqlOperator(task_id="t", sql_conn_id="wh", table_prefix="acme_", schema="usage")
    assert op.outlets == [Asset(uri=f"depot-usage://wh/usage/acme_{name}") for name in TABLE_NAMES]


def test_templated_location_leaves_outlets_to_the_author() -> None:
    op = DepotUsageToSqlOperator(task_id="t", sql_conn_id="{{ var.value.wh }}")
    assert op.outlets == []
    mine = [Asset(uri="depot-usage://custom/table")]
    assert DepotUsageToSqlOperator(task_id="u", sql_conn_id="wh", outlets=mine).outlets == mine


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"granularity": "daily"}, "granularity must be one of hour, day, week, month"),
        ({"table_prefix": "Bad-"}, "table_prefix 'Bad-' may hold only"),
        ({"schema": "a;b"}, "schema must be a plain SQL identifier"),
    ],
)
def test_bad_literal_arguments_fail_at_parse(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DepotUsageToSqlOperator(task_id="t", sql_conn_id="wh", **kwargs)


@pytest.mark.parametrize(
    ("rendered", "message"),
    [
        ({"start": "2025-03-05", "end": "2025-03-01"}, r"end \(2025-03-01T00:00:00Z\) must be after start"),
        ({"start": "last tuesday", "end": "2025-03-01"}, "start is not an ISO 8601 date or timestamp"),
        ({"start": "2025-03-01T12:00:00Z", "end": "2025-03-02"}, "start .* is not on a UTC day boundary"),
        ({"start": "2025-03-01"}, "end is required when start is given"),
        ({"table_prefix": "usage-"}, "table_prefix 'usage-' may hold only"),
        ({"schema": "x.y"}, "schema must be a plain SQL identifier"),
        ({"chunk_size": 0}, "chunk_size must be a positive integer"),
        ({"sql_conn_id": ""}, "sql_conn_id must be a non-empty connection id"),
        ({"depot_conn_id": ""}, "depot_conn_id must be a non-empty connection id"),
        ({"org_id": 42}, "org_id must be a string"),
    ],
)
def test_execute_validates_before_any_call(
    rendered: dict[str, Any], message: str, recording_depot: list[str]
) -> None:
    # sql_conn_id names no connection: reaching the warehouse would fail differently.
    op = DepotUsageToSqlOperator(task_id="t", sql_conn_id="no_such_warehouse")
    for name, value in rendered.items():
        setattr(op, name, value)  # what template rendering would have produced
    day = dt.datetime(2025, 3, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match=message):
        op.execute(context(day, day, day))
    assert recording_depot == []


def test_interval_without_a_whole_day_exports_nothing(recording_depot: list[str]) -> None:
    op = DepotUsageToSqlOperator(task_id="t", sql_conn_id="no_such_warehouse", table_prefix="p_")
    start = dt.datetime(2025, 3, 10, 6, tzinfo=UTC)
    result = op.execute(context(start, start + dt.timedelta(hours=1), start))
    assert result == {f"p_{name}": 0 for name in TABLE_NAMES}
    assert json.loads(json.dumps(result)) == result
    assert recording_depot == []


def test_a_non_sql_connection_is_refused_by_name(recording_depot: list[str]) -> None:
    op = DepotUsageToSqlOperator(task_id="t", sql_conn_id="depot_default")
    day = dt.datetime(2025, 3, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="sql_conn_id 'depot_default' is a DepotHook, not a SQL"):
        op.execute(context(day, day, day))
    assert recording_depot == []
